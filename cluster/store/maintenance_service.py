"""The part of etcd's Maintenance service that clients rely on: Status (and an empty Alarm list).

`etcdctl endpoint status` and health checks read these. Raft index and term come from the
Replicator's status, so they become real once Raft is plugged in.
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.store.replicator import Replicator
from cluster.store.rpc import Context, Headers, unary
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

VERSION = "3.4.0-raykube"  # etcd's API level that this store speaks


class MaintenanceService(rpc_pb2_grpc.MaintenanceServicer):
    def __init__(self, replicator: Replicator, headers: Headers, disk_bytes: Callable[[], int]) -> None:
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
    async def Alarm(self, request: rpc_pb2.AlarmRequest, context: Context) -> rpc_pb2.AlarmResponse:
        return rpc_pb2.AlarmResponse(header=self._headers.make())  # this store raises no alarms
