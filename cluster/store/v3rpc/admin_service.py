"""TEST ONLY: StoreAdmin/SetFaults, fault injection driven from another process (see replication/faults.py).

Served on a replica's client address only when it was started with `fault_injection=True`.
"""

from __future__ import annotations

from cluster.store.replication.faults import Faults
from cluster.store.v3rpc.rpc import Context
from raykube.store.v1 import store_pb2, store_pb2_grpc


class StoreAdminService(store_pb2_grpc.StoreAdminServicer):
    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    async def SetFaults(
        self, request: store_pb2.SetFaultsRequest, context: Context
    ) -> store_pb2.SetFaultsResponse:
        self._faults.set(request.drop_peers)
        return store_pb2.SetFaultsResponse()
