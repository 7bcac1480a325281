"""Faults on three real store processes: kill -9 the leader under load, a partition healed, all three
restarted, a replica whose disk was wiped replaced. Every client operation is recorded and the
histories are checked for linearizability (tests/store/linearizability.py); acknowledged writes
are counted one by one afterwards.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
import pytest

from cluster.etcd_keys import prefix_end
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from tests.polling import eventually
from tests.store.history import Status, save
from tests.store.linearizability import check

from .processes import ProcessCluster
from .workload import Workload


def acked_keys(channel: grpc.Channel, serializable: bool = False) -> set[bytes]:
    request = rpc_pb2.RangeRequest(
        key=b"ack/", range_end=prefix_end(b"ack/"), keys_only=True, serializable=serializable
    )
    return {kv.key for kv in rpc_pb2_grpc.KVStub(channel).Range(request, timeout=5).kvs}


def assert_linearizable(load: Workload, tmp_path: Path) -> None:
    history = load.recorder.history()
    result = check(history, max_steps=2_000_000)
    if not result.ok:
        save(tmp_path / "history.jsonl", history)
    assert result.ok, result.explain()
    assert sum(op.status is Status.OK for op in history) > 100


def first_write_after(load: Workload, moment: float) -> float | None:
    """Seconds from `moment` to the first acknowledged write invoked after it."""
    done = [
        op.complete - moment
        for op in load.recorder.history()
        if op.status is Status.OK and op.kind == "write" and op.invoke > moment and op.complete
    ]
    return min(done, default=None)


def test_killing_the_leader_under_load_loses_no_acknowledged_write(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path)
    try:
        leader = cluster.leader()
        with Workload(lambda: [cluster.clients[name] for name in cluster.procs]) as load:
            eventually(lambda: load.ok_count() >= 150, 20, "the load to get going")
            killed_at = time.monotonic()
            cluster.kill(leader)
            survivor = cluster.leader(timeout=5)
            elected = time.monotonic() - killed_at
            ok_before = load.ok_count()
            # Writers whose proposals went to the dead leader wait out the request timeout (2 s).
            eventually(
                lambda: first_write_after(load, killed_at) and load.ok_count() >= ok_before + 150,
                20,
                "writes to go on",
            )
        served = first_write_after(load, killed_at)
        print(
            f"\nkill -9 leader: new leader agreed after {elected:.2f}s, first write served after {served:.2f}s"
        )
        assert elected < 2.0  # election timeout is 0.2-0.4 s
        assert_linearizable(load, tmp_path)
        with cluster.channel(survivor) as channel:
            assert set(load.acked) <= acked_keys(channel)
        cluster.start(leader)  # the old leader comes back and catches up
        with cluster.channel(leader) as channel:
            eventually(lambda: set(load.acked) <= acked_keys(channel, serializable=True), 10, "catch-up")
    finally:
        cluster.close()


def test_a_partitioned_replica_catches_up_after_healing(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path)
    try:
        leader = cluster.leader()
        victim = next(name for name in cluster.procs if name != leader)
        majority = [cluster.clients[name] for name in cluster.procs if name != victim]
        with Workload(lambda: majority) as load:
            eventually(lambda: load.ok_count() >= 100, 20, "the load to get going")
            cluster.cut_off(victim)
            cut = load.ok_count()
            with cluster.channel(victim) as channel, pytest.raises(grpc.RpcError) as refused:
                rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"reg/a"), timeout=5)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            eventually(lambda: load.ok_count() >= cut + 150, 20, "the majority to go on")
            with cluster.channel(victim) as channel:
                assert not set(load.acked) <= acked_keys(channel, serializable=True)  # it fell behind
            cluster.heal()
            healed, healed_at = load.ok_count(), time.monotonic()
            eventually(lambda: load.ok_count() >= healed + 50, 20, "the load after healing")
        with cluster.channel(victim) as channel:
            eventually(lambda: set(load.acked) <= acked_keys(channel, serializable=True), 10, "catch-up")
        print(f"\npartition healed: the replica had caught up {time.monotonic() - healed_at:.2f}s later")
        assert_linearizable(load, tmp_path)
    finally:
        cluster.close()


def test_all_three_killed_and_restarted_keep_every_acknowledged_write(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path)
    try:
        cluster.leader()
        targets = list(cluster.clients.values())  # dead or alive: the clients keep trying
        with Workload(lambda: targets) as load:
            eventually(lambda: load.ok_count() >= 200, 20, "the load to get going")
            for name in list(cluster.procs):
                cluster.kill(name)
        acked = set(load.acked)
        for name in cluster.names:
            cluster.start(name)
        cluster.leader()
        for name in cluster.names:
            with cluster.channel(name) as channel:
                assert acked <= acked_keys(channel)
        assert_linearizable(load, tmp_path)
    finally:
        cluster.close()


def test_a_replica_that_lost_its_disk_is_replaced_and_catches_up_by_snapshot(tmp_path: Path) -> None:
    cluster = ProcessCluster(tmp_path, snapshot_every=50, catchup=10)
    try:
        leader = cluster.leader()
        lost = next(name for name in cluster.procs if name != leader)
        lost_id = cluster.member_id(lost)
        with Workload(lambda: [cluster.clients[name] for name in cluster.procs if name != lost]) as load:
            eventually(lambda: load.ok_count() >= 100, 20, "the load to get going")
            cluster.kill(lost)
            shutil.rmtree(tmp_path / lost)
            eventually(lambda: load.ok_count() >= 300, 20, "writes while one replica is gone")
            with cluster.channel(leader) as channel:
                members = rpc_pb2_grpc.ClusterStub(channel)
                members.MemberRemove(rpc_pb2.MemberRemoveRequest(ID=lost_id), timeout=5)
                peer_url = f"http://{cluster.peers[lost]}"
                new_id = members.MemberAdd(rpc_pb2.MemberAddRequest(peerURLs=[peer_url]), timeout=5).member.ID
            cluster.start(lost, state="existing")
            with cluster.channel(lost) as channel:
                eventually(lambda: set(load.acked) <= acked_keys(channel, serializable=True), 10, "catch-up")
        assert cluster.member_id(lost) == new_id != lost_id
        assert "restored from the leader's snapshot" in cluster.procs[lost].log_text()
        with cluster.channel(lost) as channel:
            listed = (
                rpc_pb2_grpc.ClusterStub(channel).MemberList(rpc_pb2.MemberListRequest(), timeout=5).members
            )
            assert sorted(m.ID for m in listed) == sorted(cluster.member_id(name) for name in cluster.names)
            assert set(load.acked) <= acked_keys(channel)
        assert_linearizable(load, tmp_path)
    finally:
        cluster.close()
