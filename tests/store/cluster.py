"""Three (or more) store replicas in this process, each on its own event-loop thread, real sockets.

Each replica is a StoreThread (conftest.py) started with the same peer list; ticks are 20 ms so
elections take a fraction of a second. Helpers wait with deadlines for what tests need (a leader,
a value visible on a replica) instead of sleeping.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import grpc

from cluster.bootstrap.ray_node import free_ports
from cluster.store.replication.raft_replicator import RaftOptions
from cluster.store.server import StoreOptions
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.polling import eventually as wait_for

from .conftest import StoreThread

FAST_RAFT = RaftOptions(tick_interval=0.02, election_ticks=10, request_timeout=3.0)


def fast_raft(**options: object) -> RaftOptions:
    """20 ms ticks (elections in 0.2-0.4 s), with these changes."""
    return replace(FAST_RAFT, **options)  # type: ignore[arg-type]


class InProcessCluster:
    def __init__(self, root: Path, size: int = 3, **options: object) -> None:
        self.root = root
        self.peers = {f"store-{i}": f"127.0.0.1:{port}" for i, port in enumerate(free_ports(size))}
        self.base = StoreOptions(peers=self.peers, raft=FAST_RAFT, fault_injection=True)
        self.base = replace(self.base, **options)  # type: ignore[arg-type]
        self.nodes: dict[str, StoreThread] = {}
        for name in self.peers:
            self.start(name)

    def start(self, name: str, **options: object) -> StoreThread:
        node = StoreThread(self.root / name, replace(self.base, name=name, **options))  # type: ignore[arg-type]
        self.nodes[name] = node
        return node

    def stop(self, name: str) -> None:
        self.nodes.pop(name).stop()

    def close(self) -> None:
        for name in list(self.nodes):
            self.stop(name)

    def leader(self, timeout: float = 10.0) -> StoreThread:
        """The replica every running replica agrees leads (waiting for one)."""

        def agreed() -> StoreThread | None:
            leaders = {node.node.replicator.status().leader_id for node in self.nodes.values()}
            if len(leaders) != 1 or 0 in leaders:
                return None
            (leader_id,) = leaders
            return next((n for n in self.nodes.values() if n.node.member_id == leader_id), None)

        return wait_for(agreed, timeout, "an agreed leader")

    def followers(self) -> list[StoreThread]:
        leader = self.leader()
        return [node for node in self.nodes.values() if node is not leader]

    def name_of(self, node: StoreThread) -> str:
        return next(name for name, n in self.nodes.items() if n is node)


def value_at(channel: grpc.Channel, key: bytes, serializable: bool = False) -> bytes | None:
    resp = rpc_pb2_grpc.KVStub(channel).Range(
        rpc_pb2.RangeRequest(key=key, serializable=serializable), timeout=5
    )
    return resp.kvs[0].value if resp.kvs else None
