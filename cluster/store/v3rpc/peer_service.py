"""The StorePeer service: what replicas call on each other, served on a replica's peer address.

- RaftStream: where this replica takes Raft messages (the port of its raft_stream.py listener,
  on the host of its peer address): peers stream their batches there, not through gRPC.
- Members: the member table, for a new member that must find its own ID when it joins.
- LeaseKeepAlive, LeaseTimeToLive: a follower's clients' lease calls, answered here if this
  replica leads (else "not leader", and the follower tries the next leader).

A Members call from another cluster (a different cluster ID) is answered with this cluster's ID,
so the caller can tell; a Raft stream from another cluster is refused there. Event-loop only.
"""

from __future__ import annotations

from cluster.store.replication.raft_replicator import RaftReplicator
from cluster.store.v3rpc.lease_service import LeaseService
from cluster.store.v3rpc.rpc import Context, unary
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc


class PeerService(store_pb2_grpc.StorePeerServicer):
    def __init__(
        self, cluster_id: int, replicator: RaftReplicator, leases: LeaseService, stream_port: int
    ) -> None:
        self._cluster_id = cluster_id
        self._replicator = replicator
        self._leases = leases
        self._stream_port = stream_port

    async def RaftStream(
        self, request: store_pb2.RaftStreamRequest, context: Context
    ) -> store_pb2.RaftStreamResponse:
        return store_pb2.RaftStreamResponse(port=self._stream_port)

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
