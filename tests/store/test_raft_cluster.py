"""Three replicas in this process (real sockets): replication, reads and writes anywhere, watches,
leases through followers, membership and leadership changes, a partitioned replica catching up.

Processes killed for real are in test_fault_processes.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cluster.bootstrap.ray_node import free_ports
from cluster.store.server import StoreOptions
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

from .clients import WatchClient
from .cluster import InProcessCluster, fast_raft, value_at, wait_for
from .conftest import FakeClock, StoreThread


@pytest.fixture
def cluster(tmp_path: Path, clock: FakeClock) -> Iterator[InProcessCluster]:
    c = InProcessCluster(tmp_path, clock=clock, lease_tick=0.01)
    yield c
    c.close()


def put(channel: grpc.Channel, key: bytes, value: bytes, **kw: object) -> rpc_pb2.PutResponse:
    request = rpc_pb2.PutRequest(key=key, value=value, **kw)  # type: ignore[arg-type]
    return rpc_pb2_grpc.KVStub(channel).Put(request, timeout=5)


def test_writes_anywhere_are_read_everywhere(cluster: InProcessCluster) -> None:
    leader = cluster.leader()
    follower, other = cluster.followers()
    with leader.channel() as at_leader, follower.channel() as at_follower, other.channel() as at_other:
        assert put(at_leader, b"a", b"1").header.revision == 2
        # A linearizable read at a follower sees the write at once (ReadIndex through the leader).
        assert value_at(at_follower, b"a") == b"1"
        # A write at a follower is forwarded to the leader and answered once applied here.
        resp = put(at_follower, b"b", b"2")
        assert resp.header.revision == 3 and resp.header.member_id == follower.node.member_id
        assert value_at(at_leader, b"b") == b"2" and value_at(at_other, b"b") == b"2"
        # A serializable read answers from local state: it catches up without a barrier.
        wait_for(lambda: value_at(at_other, b"b", serializable=True) == b"2", what="the write on a follower")
    statuses = [n.node.replicator.status() for n in cluster.nodes.values()]
    assert len({s.term for s in statuses}) == 1 and len({s.leader_id for s in statuses}) == 1


def test_a_watch_at_a_follower_sees_writes_at_the_leader(cluster: InProcessCluster) -> None:
    leader = cluster.leader()
    follower = cluster.followers()[0]
    with follower.channel() as at_follower, leader.channel() as at_leader:
        watch = WatchClient(at_follower)
        try:
            watch.create(b"w/", b"w0")
            put(at_leader, b"w/x", b"1")
            put(at_leader, b"w/y", b"2")
            assert [(key, value) for _, _, key, value, _ in watch.events(2)] == [
                (b"w/x", b"1"),
                (b"w/y", b"2"),
            ]
        finally:
            watch.close()


def test_leases_expire_on_the_leader_and_keep_alives_through_a_follower_work(
    cluster: InProcessCluster, clock: FakeClock
) -> None:
    cluster.leader()
    follower = cluster.followers()[0]
    with follower.channel() as channel:
        lease = rpc_pb2_grpc.LeaseStub(channel)
        granted = lease.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=5), timeout=5)
        put(channel, b"owned", b"x", lease=granted.ID)
        clock.advance(3)
        keep_alive = lease.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=granted.ID)]), timeout=5)
        assert [r.TTL for r in keep_alive] == [5]  # answered by the leader, through the follower
        clock.advance(3)  # 6 s after the grant, 3 s after the keep-alive: still alive
        ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=granted.ID), timeout=5)
        assert (ttl.TTL, ttl.grantedTTL) == (2, 5)
        assert value_at(channel, b"owned") == b"x"
        clock.advance(3)
        wait_for(lambda: value_at(channel, b"owned") is None, what="the lease's key to be deleted")
        gone = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=granted.ID), timeout=5)
        assert gone.TTL == -1


def test_member_list_and_move_leader(cluster: InProcessCluster) -> None:
    leader = cluster.leader()
    target = cluster.followers()[0]
    with leader.channel() as channel:

        def published() -> list[rpc_pb2.Member] | None:
            found = rpc_pb2_grpc.ClusterStub(channel).MemberList(rpc_pb2.MemberListRequest()).members
            return list(found) if all(m.clientURLs for m in found) else None

        members = wait_for(published, what="every member to publish its client URL")
        assert sorted(m.name for m in members) == ["store-0", "store-1", "store-2"]
        by_name = {m.name: m for m in members}
        for name, node in cluster.nodes.items():
            assert list(by_name[name].peerURLs) == [f"http://{cluster.peers[name]}"]
            assert list(by_name[name].clientURLs) == [f"http://{node.target}"]
        maintenance = rpc_pb2_grpc.MaintenanceStub(channel)
        maintenance.MoveLeader(rpc_pb2.MoveLeaderRequest(targetID=target.node.member_id), timeout=5)
    assert cluster.leader() is target
    with cluster.followers()[0].channel() as channel, pytest.raises(grpc.RpcError) as refused:
        rpc_pb2_grpc.MaintenanceStub(channel).MoveLeader(
            rpc_pb2.MoveLeaderRequest(targetID=target.node.member_id), timeout=5
        )
    assert (refused.value.code(), refused.value.details()) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "etcdserver: not leader",
    )


def test_a_new_leader_takes_over_when_the_leader_stops(cluster: InProcessCluster) -> None:
    leader = cluster.leader()
    with leader.channel() as channel:
        put(channel, b"before", b"1")
    old_term = leader.node.replicator.status().term
    cluster.stop(cluster.name_of(leader))
    new_leader = cluster.leader()
    assert new_leader.node.replicator.status().term > old_term
    with new_leader.channel() as channel:
        assert value_at(channel, b"before") == b"1"
        put(channel, b"after", b"2")
    for node in cluster.nodes.values():
        with node.channel() as channel:
            assert value_at(channel, b"after") == b"2"


def test_a_partitioned_replica_catches_up_by_snapshot_after_healing(tmp_path: Path) -> None:
    cluster = InProcessCluster(tmp_path, raft=fast_raft(snapshot_every=20, catchup_entries=5))
    try:
        leader = cluster.leader()
        lagging, other = cluster.followers()
        others = [leader.node.member_id, other.node.member_id]
        lagging.node.faults.set(others)
        leader.node.faults.set([lagging.node.member_id])
        other.node.faults.set([lagging.node.member_id])
        with leader.channel() as channel:
            for i in range(60):
                put(channel, b"k%02d" % i, b"v%d" % i)
        assert (
            leader.node.replicator.status().applied_index
            > lagging.node.replicator.status().applied_index + 50
        )
        for node in cluster.nodes.values():
            node.node.faults.set(())
        with lagging.channel() as channel:
            wait_for(
                lambda: value_at(channel, b"k59", serializable=True) == b"v59", what="the replica to catch up"
            )
            assert value_at(channel, b"k00", serializable=True) == b"v0"
        assert lagging.node.replicator.status().applied_index >= 60
        assert lagging.node.replicator.snapshots_received == 1  # its entries were compacted away
    finally:
        cluster.close()


def test_a_replica_that_lost_its_disk_is_replaced_and_catches_up_by_snapshot(tmp_path: Path) -> None:
    cluster = InProcessCluster(tmp_path, raft=fast_raft(snapshot_every=20, catchup_entries=5))
    try:
        leader = cluster.leader()
        lost = cluster.followers()[0]
        lost_name, lost_id = cluster.name_of(lost), lost.node.member_id
        cluster.stop(lost_name)
        shutil.rmtree(tmp_path / lost_name)
        with leader.channel() as channel:
            for i in range(50):  # written while one of three is down: a quorum still commits
                put(channel, b"k%02d" % i, b"v%d" % i)
            members = rpc_pb2_grpc.ClusterStub(channel)
            members.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=lost_id), timeout=5)
            with pytest.raises(grpc.RpcError) as unknown:
                members.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=lost_id), timeout=5)
            assert unknown.value.details() == "etcdserver: member not found"
            peer_url = f"http://{cluster.peers[lost_name]}"
            added = members.MemberAdd(rpc_pb2.MemberAddRequest(peerURLs=[peer_url]), timeout=5).member
            new_id = added.ID
            assert new_id != lost_id and list(added.peerURLs) == [peer_url]
        replacement = cluster.start(lost_name, initial_cluster_state="existing")
        assert replacement.node.member_id == new_id  # found by its peer URL
        with replacement.channel() as channel:
            wait_for(lambda: value_at(channel, b"k49", serializable=True) == b"v49", what="the new member")
            assert value_at(channel, b"k00") == b"v0"
            put(channel, b"from-new", b"1")
            names = {
                m.name
                for m in rpc_pb2_grpc.ClusterStub(channel).MemberList(rpc_pb2.MemberListRequest()).members
            }
        assert replacement.node.replicator.snapshots_received == 1
        assert sorted(replacement.node.replicator.voters) == sorted(
            n.node.member_id for n in cluster.nodes.values()
        )
        assert names <= {"store-0", "store-1", "store-2", ""}
    finally:
        cluster.close()


def test_a_write_stranded_on_a_cut_off_leader_times_out_and_never_applies(tmp_path: Path) -> None:
    cluster = InProcessCluster(tmp_path, raft=fast_raft(request_timeout=1.0))
    try:
        old = cluster.leader()
        others = cluster.followers()
        old.node.faults.set([n.node.member_id for n in others])
        for node in others:
            node.node.faults.set([old.node.member_id])
        with old.channel() as channel, pytest.raises(grpc.RpcError) as stranded:
            put(channel, b"stranded", b"x")  # appended by the old leader, never replicated
        assert (stranded.value.code(), stranded.value.details()) == (
            grpc.StatusCode.UNAVAILABLE,
            "etcdserver: request timed out",
        )
        new = wait_for(
            lambda: next((n for n in others if n.node.replicator.is_leader), None), what="a new leader"
        )
        with new.channel() as channel:
            put(channel, b"after", b"y")
        for node in cluster.nodes.values():
            node.node.faults.set(())
        with old.channel() as channel:
            wait_for(
                lambda: value_at(channel, b"after", serializable=True) == b"y",
                what="the old leader to rejoin",
            )
            assert value_at(channel, b"stranded") is None  # its entry was overwritten, never applied
    finally:
        cluster.close()


def test_a_lone_founder_without_a_quorum_stops_cleanly_while_requests_wait(tmp_path: Path) -> None:
    peers = {f"store-{i}": f"127.0.0.1:{port}" for i, port in enumerate(free_ports(3))}
    options = StoreOptions(name="store-0", peers=peers, raft=fast_raft(request_timeout=30))
    node = StoreThread(tmp_path / "store-0", options)
    try:
        with node.channel() as channel, pytest.raises(grpc.RpcError) as waited:
            rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k"), timeout=0.3)
        assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED  # no leader: it waits
    finally:
        node.stop()  # its own publication is still waiting for a leader too: must not raise
