"""Start and stop one store node: state machine + replicator + lease expiry + etcd's gRPC API.

    node = await start_store_node(Path("/var/lib/raykube/store-0"), "127.0.0.1", 0)
    host, port = node.address        # port 0 picks a free port
    ...
    await node.stop()

Everything runs on the calling event loop: the gRPC aio server, the commit loop and the lease
expiry loop (both owned by one TaskGroup in `node._supervisor`), and every servicer. Only WAL and
snapshot file I/O leave the loop, in worker threads. `stop()` stops serving (in-flight RPCs get
`grace` seconds), stops the expiry loop, lets the commit loop finish its batch, and closes the WAL.

No Ray here: a Ray actor wraps this from outside.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from cluster.store.kv_service import KVService
from cluster.store.lease_service import LeaseService
from cluster.store.lease_timers import Clock, LeaseTimers, expire_leases
from cluster.store.local_replicator import LocalOptions, LocalReplicator
from cluster.store.maintenance_service import MaintenanceService
from cluster.store.replicator import Applied
from cluster.store.rpc import Headers
from cluster.store.watch import WatchHub
from cluster.store.watch_service import WatchService
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreOptions:
    name: str = "store-0"  # member name; with `cluster`, it determines the member ID
    cluster: str = "raykube"  # cluster name; determines the cluster ID
    local: LocalOptions = field(default_factory=LocalOptions)
    progress_interval: float = 600.0  # seconds between progress notifications (etcd: 10 min)
    lease_tick: float = 0.25  # how often the expiry loop looks for expired leases
    clock: Clock = time.monotonic


def _id(*names: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(names).encode()).digest()[:8], "big")


class StoreNode:
    def __init__(
        self,
        address: tuple[str, int],
        server: grpc.aio.Server,
        replicator: LocalReplicator,
        timers: LeaseTimers,
        options: StoreOptions,
    ) -> None:
        """Use `start_store_node`."""
        self.address = address
        self.replicator = replicator
        self._server = server
        self._timers = timers
        self._options = options
        self._expiry: asyncio.Task[None] | None = None
        self._supervisor = asyncio.create_task(self._supervise(), name=f"store-node {options.name}")

    async def _supervise(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.replicator.run())
            self._expiry = tasks.create_task(
                expire_leases(self.replicator, self._timers, tick=self._options.lease_tick)
            )

    async def wait(self) -> None:
        """Return when the node's loops have ended: after `stop()`, or raise why they failed."""
        await asyncio.shield(self._supervisor)

    async def stop(self, grace: float = 1.0) -> None:
        await self._server.stop(grace)
        if self._expiry is not None:
            self._expiry.cancel()
        self.replicator.stop()
        await self._supervisor
        self.replicator.close()


async def start_store_node(
    data_dir: Path, host: str = "127.0.0.1", port: int = 0, options: StoreOptions | None = None
) -> StoreNode:
    """Recover the store in `data_dir` and serve etcd's v3 API on (host, port)."""
    options = options or StoreOptions()
    replicator = LocalReplicator.open(
        data_dir, member_id=_id(options.cluster, options.name), options=options.local
    )
    machine = replicator.machine
    hub = WatchHub()
    timers = LeaseTimers(options.clock)
    for lease in machine.lease_ids():  # a restart gives every lease a fresh TTL, as in etcd
        timers.start(lease, machine.lease_granted_ttl(lease))

    def on_applied(batch: Sequence[Applied]) -> None:
        hub.notify()
        for entry, outcome in batch:
            if isinstance(outcome, rpc_pb2.LeaseGrantResponse):
                timers.start(outcome.ID, outcome.TTL)
            elif isinstance(outcome, rpc_pb2.LeaseRevokeResponse):
                timers.forget(entry.lease_revoke.ID)

    replicator.on_applied = on_applied
    headers = Headers(_id(options.cluster), machine, replicator)
    server = grpc.aio.server()
    rpc_pb2_grpc.add_KVServicer_to_server(KVService(machine, replicator, headers), server)
    rpc_pb2_grpc.add_WatchServicer_to_server(
        WatchService(machine, hub, headers, progress_interval=options.progress_interval, clock=options.clock),
        server,
    )
    rpc_pb2_grpc.add_LeaseServicer_to_server(LeaseService(machine, replicator, timers, headers), server)
    rpc_pb2_grpc.add_MaintenanceServicer_to_server(
        MaintenanceService(replicator, headers, replicator.disk_bytes), server
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    await server.start()
    log.info("store %s serving etcd v3 on %s:%d (data in %s)", options.name, host, bound, data_dir)
    return StoreNode((host, bound), server, replicator, timers, options)
