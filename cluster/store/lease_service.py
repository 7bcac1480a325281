"""etcd's Lease service: grant and revoke through the log, keep-alive and TTLs on the shell's clock.

Grants and revokes are log entries (every replica must agree which leases exist). Keep-alives
and remaining TTLs are not: they only move deadlines in LeaseTimers, which live on the node that
runs the expiry loop (the leader, once there is Raft), as in etcd's lessor.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from cluster.store.errors import LeaseNotFound
from cluster.store.lease_timers import LeaseTimers
from cluster.store.mvcc import StateMachine
from cluster.store.replicator import Replicator
from cluster.store.rpc import Context, Headers, unary, write
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.store.v1 import store_pb2


class LeaseService(rpc_pb2_grpc.LeaseServicer):
    def __init__(
        self, machine: StateMachine, replicator: Replicator, timers: LeaseTimers, headers: Headers
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
            ttl = self._timers.renew(request.ID) or 0  # etcd answers TTL 0 for an unknown lease
            yield rpc_pb2.LeaseKeepAliveResponse(header=self._headers.make(), ID=request.ID, TTL=ttl)

    @unary
    async def LeaseTimeToLive(
        self, request: rpc_pb2.LeaseTimeToLiveRequest, context: Context
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        await self._replicator.read_barrier(False)
        resp = rpc_pb2.LeaseTimeToLiveResponse(header=self._headers.make(), ID=request.ID)
        try:
            resp.grantedTTL = self._machine.lease_granted_ttl(request.ID)
        except LeaseNotFound:
            resp.TTL = -1  # etcd: not an error, a TTL of -1
            return resp
        resp.TTL = self._timers.remaining(request.ID)
        if request.keys:
            resp.keys.extend(self._machine.lease_keys(request.ID))
        return resp

    @unary
    async def LeaseLeases(
        self, request: rpc_pb2.LeaseLeasesRequest, context: Context
    ) -> rpc_pb2.LeaseLeasesResponse:
        await self._replicator.read_barrier(False)
        leases = [rpc_pb2.LeaseStatus(ID=lease) for lease in self._machine.lease_ids()]
        return rpc_pb2.LeaseLeasesResponse(header=self._headers.make(), leases=leases)
