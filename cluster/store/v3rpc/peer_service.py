"""The StorePeer service: what replicas call on each other, served on a replica's peer address.

- Send: a stream of batches of Raft messages from one peer, each batch stepped into this
  replica's RawNode in order as it arrives (messages from a peer cut off by fault injection are
  dropped here; messages addressed to another member ID, e.g. a replica replaced at the same
  address, are ignored by the replicator). Stepping is all Raft needs from a transport.
- Members: the member table, for a new member that must find its own ID when it joins.
- LeaseKeepAlive, LeaseTimeToLive: a follower's clients' lease calls, answered here if this
  replica leads (else "not leader", and the follower tries the next leader).

A request from another cluster (a different cluster ID) is refused. Event-loop only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from cluster.store.errors import ClusterIDMismatch
from cluster.store.replication.faults import Faults
from cluster.store.replication.raft_codec import message_from_pb
from cluster.store.replication.raft_replicator import RaftReplicator
from cluster.store.v3rpc.lease_service import LeaseService
from cluster.store.v3rpc.rpc import Context, unary
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc


class PeerService(store_pb2_grpc.StorePeerServicer):
    def __init__(
        self, cluster_id: int, replicator: RaftReplicator, leases: LeaseService, faults: Faults
    ) -> None:
        self._cluster_id = cluster_id
        self._replicator = replicator
        self._leases = leases
        self._faults = faults

    async def Send(
        self, request_iterator: AsyncIterator[store_pb2.SendRequest], context: Context
    ) -> store_pb2.SendResponse:
        faults, step = self._faults, self._replicator.step
        async for request in request_iterator:
            if request.cluster_id != self._cluster_id:
                await context.abort(ClusterIDMismatch.code, ClusterIDMismatch.text)
            step(
                [
                    message_from_pb(pb)
                    for pb in request.messages
                    if not (faults.dropped and faults.blocks(pb.frm))
                ]
            )
        return store_pb2.SendResponse()

    async def Members(self, request: store_pb2.MembersRequest, context: Context) -> store_pb2.MembersResponse:
        return store_pb2.MembersResponse(cluster_id=self._cluster_id, members=self._replicator.members.list())

    @unary
    async def LeaseKeepAlive(
        self, request: rpc_pb2.LeaseKeepAliveRequest, context: Context
    ) -> rpc_pb2.LeaseKeepAliveResponse:
        return rpc_pb2.LeaseKeepAliveResponse(ID=request.ID, TTL=self._leases.renew_here(request.ID))

    @unary
    async def LeaseTimeToLive(
        self, request: rpc_pb2.LeaseTimeToLiveRequest, context: Context
    ) -> rpc_pb2.LeaseTimeToLiveResponse:
        return await self._leases.time_to_live_here(request)
