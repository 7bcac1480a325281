"""etcd's Lease service: grant and revoke through the log, keep-alive and TTLs on the leader's clock.

Grants and revokes are log entries (every replica must agree which leases exist). Keep-alives
and remaining TTLs are not: they move or read deadlines in LeaseTimers, and only the leader's
timers count (it alone expires leases), as in etcd's lessor. So a follower answers LeaseKeepAlive
and LeaseTimeToLive by asking the leader over the peer channel (StorePeer, peer_service.py, which
calls `renew_here` / `time_to_live_here` there), retrying through a leader change until the
request timeout, like etcd's follower forwards to the leader's peer URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from cluster.store.errors import LeaseNotFound, NotLeader, StoreError
from cluster.store.mvcc.state_machine import StateMachine
from cluster.store.replication.lease_timers import LeaseTimers
from cluster.store.replication.raft_replicator import RaftReplicator
from cluster.store.v3rpc.rpc import Context, Headers, unary, write
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.store.v1 import store_pb2, store_pb2_grpc


class LeaseService(rpc_pb2_grpc.LeaseServicer):
    def __init__(
        self, machine: StateMachine, replicator: RaftReplicator, timers: LeaseTimers, headers: Headers
    ) -> None:
        self._machine = machine
        self._replicator = replicator
        self._timers = timers
        self._headers = headers

    @unary
    async def LeaseGrant(
        self, request: rpc_pb2.LeaseGrantRequest, context: Context
    ) -> rpc_pb2.LeaseGrantResponse:
        return await write(
            self._replicator, self._headers, store_pb2.Entry(lease_grant=request), rpc_pb2.LeaseGrantResponse
        )

    @unary
    async def LeaseRevoke(
        self, request: rpc_pb2.LeaseRevokeRequest, context: Context
    ) -> rpc_pb2.LeaseRevokeResponse:
        return await write(
            self._replicator,
            self._headers,
            store_pb2.Entry(lease_revoke=request),
            rpc_pb2.LeaseRevokeResponse,
        )

    async def LeaseKeepAlive(
        self,
        request_iterator: AsyncIterator[rpc_pb2.LeaseKeepAliveRequest],
        context: Context,
    ) -> AsyncIterator[rpc_pb2.LeaseKeepAliveResponse]:
        async for request in request_iterator:
            try:
                ttl = await self._keep_alive(request)
            except StoreError as err:
                await context.abort(err.code, err.text)
            yield rpc_pb2.LeaseKeepAliveResponse(header=self._headers.make(), ID=request.ID, TTL=ttl)

    async def _keep_alive(self, request: rpc_pb2.LeaseKeepAliveRequest) -> int:
        async def here() -> int:
            return self.renew_here(request.ID)

        async def there(stub: store_pb2_grpc.StorePeerStub, timeout: float) -> int:
            resp: rpc_pb2.LeaseKeepAliveResponse = await stub.LeaseKeepAlive(request, timeout=timeout)
            return resp.TTL

        return await self._replicator.at_leader(here, there)

    @unary
    async def LeaseTimeToLive(
        self, request: rpc_pb2.LeaseTimeToLiveRequest, context: Context
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        async def here() -> rpc_pb2.LeaseTimeToLiveResponse:
            return await self.time_to_live_here(request)

        async def there(
            stub: store_pb2_grpc.StorePeerStub, timeout: float
        ) -> rpc_pb2.LeaseTimeToLiveResponse:
            resp: rpc_pb2.LeaseTimeToLiveResponse = await stub.LeaseTimeToLive(request, timeout=timeout)
            return resp

        resp = await self._replicator.at_leader(here, there)
        resp.header.CopyFrom(self._headers.make())
        return resp

    @unary
    async def LeaseLeases(
        self, request: rpc_pb2.LeaseLeasesRequest, context: Context
    ) -> rpc_pb2.LeaseLeasesResponse:
        await self._replicator.read_barrier(False)
        leases = [rpc_pb2.LeaseStatus(ID=lease) for lease in self._machine.lease_ids()]
        return rpc_pb2.LeaseLeasesResponse(header=self._headers.make(), leases=leases)

    # -- on the leader (directly, or for a follower through StorePeer) ---------------------------------
    def renew_here(self, lease: int) -> int:
        """Restart the lease's TTL; returns it (0 for an unknown lease, as etcd answers)."""
        if not self._replicator.is_leader:
            raise NotLeader()
        return self._timers.renew(lease) or 0

    async def time_to_live_here(
        self, request: rpc_pb2.LeaseTimeToLiveRequest
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        if not self._replicator.is_leader:
            raise NotLeader()
        await self._replicator.read_barrier(False)
        resp = rpc_pb2.LeaseTimeToLiveResponse(ID=request.ID)
        try:
            resp.grantedTTL = self._machine.lease_granted_ttl(request.ID)
        except LeaseNotFound:
            resp.TTL = -1  # etcd: not an error, a TTL of -1
            return resp
        resp.TTL = self._timers.remaining(request.ID)
        if request.keys:
            resp.keys.extend(self._machine.lease_keys(request.ID))
        return resp
