"""The part of etcd's Maintenance service that clients rely on: Status, MoveLeader, an empty Alarm list.

`etcdctl endpoint status` and health checks read Status: the leader, Raft term, commit and
applied index come from the replicator. MoveLeader is served by the leader only (etcd answers
"not leader" elsewhere; etcdctl finds the leader itself) and returns once the target leads.
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.store.replication.raft_replicator import RaftReplicator
from cluster.store.v3rpc.rpc import Context, Headers, unary
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

VERSION = "3.4.0-raykube"  # etcd's API level that this store speaks


class MaintenanceService(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, replicator: RaftReplicator, headers: Headers, disk_bytes: Callable[[], int]) -> None:
        self._replicator = replicator
        self._headers = headers
        self._disk_bytes = disk_bytes

    @unary
    async def Status(self, request: rpc_pb2.StatusRequest, context: Context) -> rpc_pb2.StatusResponse:
        status = self._replicator.status()
        size = self._disk_bytes()
        return rpc_pb2.StatusResponse(
            header=self._headers.make(),
            version=VERSION,
            dbSize=size,
            dbSizeInUse=size,
            leader=status.leader_id,
            raftIndex=status.commit_index,
            raftTerm=status.term,
            raftAppliedIndex=status.applied_index,
        )

    @unary
    async def MoveLeader(
        self, request: rpc_pb2.MoveLeaderRequest, context: Context
    ) -> rpc_pb2.MoveLeaderResponse:
        await self._replicator.transfer_leadership(request.targetID)
        return rpc_pb2.MoveLeaderResponse(header=self._headers.make())

    @unary
    async def Alarm(self, request: rpc_pb2.AlarmRequest, context: Context) -> rpc_pb2.AlarmResponse:
        return rpc_pb2.AlarmResponse(header=self._headers.make())  # this store raises no alarms
