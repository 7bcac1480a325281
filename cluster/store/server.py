"""Start and stop one store replica: Raft replicator + lease expiry + etcd's gRPC API + peer service.

    # a one-member cluster (no peers): what a single machine needs
    node = await start_store_node(Path("/var/lib/raykube/store-0"), "127.0.0.1", 0)

    # one of three founding members (each started with the same `peers`)
    peers = {"store-0": "10.0.0.1:2380", "store-1": "10.0.0.2:2380", "store-2": "10.0.0.3:2380"}
    node = await start_store_node(data_dir, "0.0.0.0", 2379, StoreOptions(name="store-1", peers=peers))

    host, port = node.address        # the client address (port 0 picks a free port)
    ...
    await node.stop()

Every replica is a Raft member (RaftReplicator); without peers it is the only one, elects itself at
once and can grow later with MemberAdd only if it was given a `peer_listen` address. Its member ID
is fixed by its data directory (identity.py): founders derive it from the cluster and member
names; a member added later (initial_cluster_state="existing", empty data directory) finds it by
its peer address.

Everything runs on the calling event loop: the two gRPC aio servers (clients on `address`, peers
on `peer_address`), the Raft stream listener (raft_stream.py: on the peer address's host, at a
port the system picks, which peers learn from StorePeer.RaftStream), the replicator's loops, the
lease expiry loop and the member's publication (all owned by one TaskGroup in
`node._supervisor`). Only WAL and snapshot file I/O leave the loop, in worker threads. `stop()`
stops serving (in-flight RPCs get `grace` seconds), stops the loops, lets the replicator finish
the Ready in hand, and closes the WAL. A replica removed from the cluster ends its loops by
itself: `wait()` returns, and the process should stop.

No Ray here: a Ray actor wraps this from outside.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from cluster.serving import Health, listen, service_names
from cluster.store.mvcc.state_machine import StateMachine
from cluster.store.replication import identity
from cluster.store.replication.faults import Faults
from cluster.store.replication.identity import Identity, derive_id
from cluster.store.replication.lease_timers import Clock, LeaseTimers, expire_leases
from cluster.store.replication.members import address_of, host_of, url_of
from cluster.store.replication.raft_replicator import RaftOptions, RaftReplicator
from cluster.store.replication.raft_stream import RaftStreamServer
from cluster.store.replication.replicator import Applied
from cluster.store.replication.transport import CHANNEL_OPTIONS
from cluster.store.v3rpc.admin_service import StoreAdminService
from cluster.store.v3rpc.cluster_service import ClusterService
from cluster.store.v3rpc.kv_service import KVService, StoreKVService
from cluster.store.v3rpc.lease_service import LeaseService
from cluster.store.v3rpc.maintenance_service import MaintenanceService
from cluster.store.v3rpc.peer_service import PeerService
from cluster.store.v3rpc.rpc import Headers
from cluster.store.v3rpc.watch import WatchHub
from cluster.store.v3rpc.watch_service import WatchService
from cluster.supervision import run_forever
from cluster.tls import Tls
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.store.v1 import store_pb2, store_pb2_grpc

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreOptions:
    name: str = "store-0"  # member name; a founder's member ID is derived from it and `cluster`
    cluster: str = "raykube"  # cluster name; determines the cluster ID
    # Member name -> peer address (host:port) of every founding member, this one included, as
    # etcd's --initial-cluster. Empty: this replica alone. For a member joining an existing
    # cluster: at least one existing member, and this one.
    peers: Mapping[str, str] = field(default_factory=dict)
    peer_listen: str | None = None  # host:port to serve peers on; default: peers[name]
    advertise_client: str | None = None  # host:port clients should use (MemberList); default: bound
    initial_cluster_state: str = "new"  # "new": found the cluster; "existing": join it (empty dir)
    raft: RaftOptions = field(default_factory=RaftOptions)
    fault_injection: bool = False  # TEST ONLY: serve StoreAdmin/SetFaults on the client address
    progress_interval: float = 600.0  # seconds between progress notifications (etcd: 10 min)
    lease_tick: float = 0.25  # how often the expiry loop looks for expired leases
    clock: Clock = time.monotonic
    tls: Tls | None = None  # TLS with client certificates on both ports (etcd's --client-cert-auth)


class StoreNode:
    def __init__(
        self,
        address: tuple[str, int],
        peer_address: str | None,
        servers: list[grpc.aio.Server],
        stream_server: RaftStreamServer | None,
        replicator: RaftReplicator,
        timers: LeaseTimers,
        faults: Faults,
        options: StoreOptions,
    ) -> None:
        """Use `start_store_node`."""
        self.address = address
        self.peer_address = peer_address
        self.replicator = replicator
        self.faults = faults  # TEST ONLY: fault injection (faults.py)
        self._servers = servers
        self._stream_server = stream_server
        self._timers = timers
        self._options = options
        self._helpers: list[asyncio.Task[None]] = []
        self._supervisor = asyncio.create_task(self._supervise(), name=f"store-node {options.name}")

    @property
    def member_id(self) -> int:
        return self.replicator.member_id

    async def _supervise(self) -> None:
        replicator, options = self.replicator, self._options
        client_url = url_of(options.advertise_client or f"{self.address[0]}:{self.address[1]}")
        async with asyncio.TaskGroup() as tasks:
            self._helpers = [
                run_forever(
                    tasks,
                    "lease expiry",
                    expire_leases(
                        replicator,
                        self._timers,
                        leading=lambda: replicator.is_leader,
                        tick=options.lease_tick,
                    ),
                ),
                tasks.create_task(replicator.publish(options.name, [client_url]), name="member publication"),
            ]
            await replicator.run()
            for helper in self._helpers:
                helper.cancel()

    async def wait(self) -> None:
        """Return when the node's loops have ended: after `stop()` or removal, or raise why they failed."""
        await asyncio.shield(self._supervisor)

    async def stop(self, grace: float = 1.0) -> None:
        """Stop serving: clients' RPCs get `grace` seconds, peers' streams none (Raft resends)."""
        client_server, *peer_server = self._servers
        await asyncio.gather(client_server.stop(grace), *(server.stop(0) for server in peer_server))
        if self._stream_server is not None:
            await self._stream_server.stop()
        for helper in self._helpers:
            helper.cancel()
        self.replicator.stop()
        try:
            await self._supervisor
        finally:
            self.replicator.close()


async def start_store_node(
    data_dir: Path, host: str = "127.0.0.1", port: int = 0, options: StoreOptions | None = None
) -> StoreNode:
    """Recover (or found, or join) the replica in `data_dir` and serve etcd's v3 API on (host, port)."""
    options = options or StoreOptions()
    if options.tls is not None:  # the peer transport speaks TLS too
        transport = dataclasses.replace(options.raft.transport, tls=options.tls)
        options = dataclasses.replace(options, raft=dataclasses.replace(options.raft, transport=transport))
    cluster_id = derive_id(options.cluster)
    peer_address = options.peers.get(options.name)
    if options.peers and peer_address is None:
        raise ValueError(f"peers must list this member ({options.name}) with its peer address")
    me, founders, hints = await _membership(data_dir, options, cluster_id, peer_address)
    faults = Faults()
    replicator = RaftReplicator.open(
        data_dir,
        member_id=me.member_id,
        cluster_id=cluster_id,
        founders=founders if me.founder else None,
        hints=hints,
        faults=faults,
        options=options.raft,
    )
    hub = WatchHub(replicator.machine)
    timers = LeaseTimers(options.clock)
    _wire_lease_timers(replicator, hub, timers)

    machine = replicator.machine
    headers = Headers(cluster_id, machine, replicator)
    leases = LeaseService(machine, replicator, timers, headers)
    servers = []
    stream_server = None
    peer_listen = options.peer_listen or peer_address
    if peer_listen is not None:
        stream_server = RaftStreamServer(cluster_id, replicator.transport.deliver, options.tls)
        stream_port = await stream_server.start(host_of(peer_listen))
        peer_server = grpc.aio.server(options=CHANNEL_OPTIONS)
        store_pb2_grpc.add_StorePeerServicer_to_server(
            PeerService(cluster_id, replicator, leases, stream_port), peer_server
        )
        peer_health = await Health.install(
            peer_server, [store_pb2.DESCRIPTOR.services_by_name["StorePeer"].full_name]
        )
        listen(peer_server, peer_listen, options.tls)
        await peer_server.start()
        await peer_health.serving()
        servers.append(peer_server)

    server = grpc.aio.server()
    kv = KVService(machine, replicator, headers)
    rpc_pb2_grpc.add_KVServicer_to_server(kv, server)
    store_pb2_grpc.add_StoreKVServicer_to_server(StoreKVService(kv), server)
    rpc_pb2_grpc.add_WatchServicer_to_server(
        WatchService(machine, hub, headers, progress_interval=options.progress_interval, clock=options.clock),
        server,
    )
    rpc_pb2_grpc.add_LeaseServicer_to_server(leases, server)
    rpc_pb2_grpc.add_MaintenanceServicer_to_server(
        MaintenanceService(replicator, headers, replicator.disk_bytes), server
    )
    rpc_pb2_grpc.add_ClusterServicer_to_server(ClusterService(replicator, headers, options.cluster), server)
    services = [
        *service_names(rpc_pb2.DESCRIPTOR),
        store_pb2.DESCRIPTOR.services_by_name["StoreKV"].full_name,
    ]
    if options.fault_injection:
        store_pb2_grpc.add_StoreAdminServicer_to_server(StoreAdminService(faults), server)
        services.append(store_pb2.DESCRIPTOR.services_by_name["StoreAdmin"].full_name)
    health = await Health.install(server, services)
    bound = listen(server, f"{host}:{port}", options.tls)
    await server.start()
    await health.serving()
    servers.insert(0, server)
    log.info(
        "store %s (member %x) serving etcd v3 on %s:%d, peers on %s (data in %s)",
        options.name,
        me.member_id,
        host,
        bound,
        peer_listen,
        data_dir,
    )
    return StoreNode((host, bound), peer_address, servers, stream_server, replicator, timers, faults, options)


async def _membership(
    data_dir: Path, options: StoreOptions, cluster_id: int, peer_address: str | None
) -> tuple[Identity, dict[int, rpc_pb2.Member], dict[int, str]]:
    """This replica's identity, the founding members, and peer addresses to start with."""
    founders = {
        derive_id(options.cluster, name): rpc_pb2.Member(name=name, peerURLs=[url_of(address)])
        for name, address in options.peers.items()
    } or {derive_id(options.cluster, options.name): rpc_pb2.Member(name=options.name)}
    hints = {member_id: address_of(m.peerURLs[0]) for member_id, m in founders.items() if m.peerURLs}
    me = identity.load(data_dir)
    if me is None:
        if options.initial_cluster_state == "existing":
            if peer_address is None:
                raise ValueError("joining an existing cluster needs peers, this member's included")
            member_id, known = await identity.discover(
                peer_address, options.peers, cluster_id, timeout=options.raft.request_timeout, tls=options.tls
            )
            hints.update({m.ID: address_of(m.peerURLs[0]) for m in known if m.peerURLs})
            me = Identity(member_id, founder=False)
        elif options.initial_cluster_state == "new":
            me = Identity(derive_id(options.cluster, options.name), founder=True)
        else:
            raise ValueError(
                f"initial_cluster_state must be 'new' or 'existing', not {options.initial_cluster_state!r}"
            )
        identity.save(data_dir, me)
    return me, founders, hints


def _wire_lease_timers(replicator: RaftReplicator, hub: WatchHub, timers: LeaseTimers) -> None:
    """Keep lease deadlines and watchers in step with what the replicator applies."""
    machine: StateMachine = replicator.machine

    def all_leases() -> list[tuple[int, int]]:
        return [(lease, machine.lease_granted_ttl(lease)) for lease in machine.lease_ids()]

    def on_applied(batch: Sequence[Applied]) -> None:
        hub.notify()
        for entry, outcome in batch:
            if isinstance(outcome, rpc_pb2.LeaseGrantResponse):
                timers.start(outcome.ID, outcome.TTL)
            elif isinstance(outcome, rpc_pb2.LeaseRevokeResponse):
                timers.forget(entry.lease_revoke.ID)

    def on_restored() -> None:
        hub.notify()
        timers.reset(all_leases())

    def on_leadership(leading: bool) -> None:
        if leading:  # a new leader gives every lease a fresh TTL, as etcd does
            timers.reset(all_leases())

    timers.reset(all_leases())  # a restart gives every lease a fresh TTL, as in etcd
    replicator.on_applied = on_applied
    replicator.on_restored = on_restored
    replicator.on_leadership = on_leadership
