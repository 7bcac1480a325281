"""The store served over etcd's gRPC API, driven with the generated stubs on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from cluster.etcd_keys import prefix_end
from cluster.store.server import StoreOptions
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.etcd.mvccpb import kv_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc

from .clients import WatchClient
from .conftest import FakeClock, StoreThread

REPO = Path(__file__).resolve().parents[2]
PUT, DELETE = kv_pb2.Event.PUT, kv_pb2.Event.DELETE


@pytest.fixture
def kv(channel: grpc.Channel) -> rpc_pb2_grpc.KVStub:
    return rpc_pb2_grpc.KVStub(channel)


@pytest.fixture
def watch(channel: grpc.Channel) -> Iterator[WatchClient]:
    client = WatchClient(channel)
    yield client
    client.close()


def test_kv_round_trip_and_header(kv: rpc_pb2_grpc.KVStub, store: StoreThread) -> None:
    put = kv.Put(rpc_pb2.PutRequest(key=b"/a", value=b"1"))
    assert put.header.revision == 2 and put.header.raft_term == 2  # bootstrap term 1, then its election
    assert put.header.member_id == store.node.replicator.status().member_id and put.header.cluster_id
    kv.Put(rpc_pb2.PutRequest(key=b"/b", value=b"2"))
    got = kv.Range(rpc_pb2.RangeRequest(key=b"/", range_end=prefix_end(b"/")))
    assert [(x.key, x.value) for x in got.kvs] == [(b"/a", b"1"), (b"/b", b"2")] and got.header.revision == 3
    deleted = kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"/a", prev_kv=True))
    assert deleted.deleted == 1 and deleted.prev_kvs[0].value == b"1"
    read_only = kv.Txn(
        rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=b"/b"))])
    )
    assert read_only.succeeded and read_only.header.revision == 4 and read_only.header.member_id
    assert read_only.responses[0].response_range.kvs[0].value == b"2"


@pytest.mark.parametrize(
    ("call", "code", "text"),
    [
        (
            lambda kv: kv.Range(rpc_pb2.RangeRequest(key=b"")),
            "INVALID_ARGUMENT",
            "etcdserver: key is not provided",
        ),
        (
            lambda kv: kv.Range(rpc_pb2.RangeRequest(key=b"a", revision=99)),
            "OUT_OF_RANGE",
            "etcdserver: mvcc: required revision is a future revision",
        ),
        (
            lambda kv: kv.Put(rpc_pb2.PutRequest(key=b"a", lease=77)),
            "NOT_FOUND",
            "etcdserver: requested lease not found",
        ),
        (
            lambda kv: kv.Txn(
                rpc_pb2.TxnRequest(
                    success=[
                        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"d")),
                        rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=b"d")),
                    ]
                )
            ),
            "INVALID_ARGUMENT",
            "etcdserver: duplicate key given in txn request",
        ),
        (
            lambda kv: (
                kv.Compact(rpc_pb2.CompactionRequest(revision=1))
                and kv.Compact(rpc_pb2.CompactionRequest(revision=1))
            ),
            "OUT_OF_RANGE",
            "etcdserver: mvcc: required revision has been compacted",
        ),
    ],
)
def test_errors_have_etcds_codes_and_texts(
    kv: rpc_pb2_grpc.KVStub, call: object, code: str, text: str
) -> None:
    with pytest.raises(grpc.RpcError) as err:
        call(kv)
    assert (err.value.code().name, err.value.details()) == (code, text)


def test_watch_replay_live_filters_and_cancel(kv: rpc_pb2_grpc.KVStub, watch: WatchClient) -> None:
    kv.Put(rpc_pb2.PutRequest(key=b"w/a", value=b"1"))  # 2
    kv.Put(rpc_pb2.PutRequest(key=b"other", value=b"x"))  # 3
    kv.Put(rpc_pb2.PutRequest(key=b"w/b", value=b"2"))  # 4
    replay = watch.create(b"w/", prefix_end(b"w/"), start_revision=2, prev_kv=True)
    assert watch.events(2) == [(replay, PUT, b"w/a", b"1", 2), (replay, PUT, b"w/b", b"2", 4)]
    no_put = watch.create(b"w/a", filters=[rpc_pb2.WatchCreateRequest.NOPUT])
    assert no_put != replay
    kv.Put(rpc_pb2.PutRequest(key=b"w/a", value=b"3"))  # 5, live
    resp = watch.next()
    assert (resp.watch_id, resp.events[0].kv.value, resp.events[0].prev_kv.value) == (replay, b"3", b"1")
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"w/a"))  # 6
    seen = sorted(watch.events(2))
    assert seen == sorted([(replay, DELETE, b"w/a", b"", 6), (no_put, DELETE, b"w/a", b"", 6)])
    watch.send(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=replay)))
    canceled = watch.next()
    assert (canceled.watch_id, canceled.canceled) == (replay, True)
    kv.Put(rpc_pb2.PutRequest(key=b"w/b", value=b"4"))  # no watcher left for a put on w/b
    assert watch.quiet()
    watch.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
    progress = watch.next()
    assert (progress.watch_id, progress.header.revision, list(progress.events)) == (-1, 7, [])


def test_watch_from_a_compacted_revision_is_canceled(kv: rpc_pb2_grpc.KVStub, watch: WatchClient) -> None:
    for i in range(4):
        kv.Put(rpc_pb2.PutRequest(key=b"k", value=b"%d" % i))  # 2..5
    kv.Compact(rpc_pb2.CompactionRequest(revision=4))
    watch_id = watch.create(b"k", start_revision=3)
    resp = watch.next()
    assert (resp.watch_id, resp.canceled, resp.compact_revision, list(resp.events)) == (watch_id, True, 4, [])
    ok = watch.create(b"k", start_revision=4)  # the compaction revision itself is still there
    assert [(v, m) for _, _, _, v, m in watch.events(2)] == [(b"2", 4), (b"3", 5)] and ok != watch_id


def test_many_watchers_one_stream_and_a_slow_reader(kv: rpc_pb2_grpc.KVStub, store: StoreThread) -> None:
    """A stream nobody reads must not hold up writers; it catches up from history later."""
    with store.channel() as ch:
        slow = WatchClient(ch)
        ids = [slow.create(b"s%d" % i) for i in range(5)]
        for n in range(200):
            kv.Put(rpc_pb2.PutRequest(key=b"s%d" % (n % 5), value=b"x" * 1000))
        got = slow.events(200)
        assert sorted({w for w, *_ in got}) == sorted(ids)
        assert [m for w, _, _, _, m in got if w == ids[0]] == list(range(2, 202, 5))
        slow.close()


def test_lease_expiry_deletes_keys_and_notifies_watchers(
    channel: grpc.Channel, kv: rpc_pb2_grpc.KVStub, watch: WatchClient, clock: FakeClock
) -> None:
    leases = rpc_pb2_grpc.LeaseStub(channel)
    lease = leases.LeaseGrant(rpc_pb2.LeaseGrantRequest(TTL=10)).ID
    kv.Put(rpc_pb2.PutRequest(key=b"eph/1", value=b"a", lease=lease))
    kv.Put(rpc_pb2.PutRequest(key=b"eph/2", value=b"b", lease=lease))
    watch.create(b"eph/", prefix_end(b"eph/"))
    ttl = leases.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease, keys=True))
    assert (ttl.TTL, ttl.grantedTTL, list(ttl.keys)) == (10, 10, [b"eph/1", b"eph/2"])
    clock.advance(8)
    alive = list(leases.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=lease)])))
    assert [(r.ID, r.TTL) for r in alive] == [(lease, 10)]
    clock.advance(8)  # 8 s after the keep-alive: still alive
    assert watch.quiet(0.2)
    assert leases.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease)).TTL == 2
    clock.advance(3)
    events = watch.events(2)
    assert [(t, k) for _, t, k, _, _ in events] == [(DELETE, b"eph/1"), (DELETE, b"eph/2")]
    assert events[0][4] == events[1][4]  # one revision for the whole revoke
    assert not kv.Range(rpc_pb2.RangeRequest(key=b"eph/", range_end=prefix_end(b"eph/"))).kvs
    assert leases.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=lease)).TTL == -1
    assert list(leases.LeaseLeases(rpc_pb2.LeaseLeasesRequest()).leases) == []
    unknown = list(leases.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=lease)])))
    assert unknown[0].TTL == 0


def test_progress_notify(tmp_path: Path) -> None:
    node = StoreThread(tmp_path, StoreOptions(progress_interval=0.2))
    try:
        with node.channel() as ch:
            client = WatchClient(ch)
            watch_id = client.create(b"p", progress_notify=True)
            beat = client.next(timeout=3)
            assert (beat.watch_id, list(beat.events), beat.header.revision) == (watch_id, [], 1)
            client.close()
    finally:
        node.stop()


def test_status(channel: grpc.Channel, kv: rpc_pb2_grpc.KVStub) -> None:
    kv.Put(rpc_pb2.PutRequest(key=b"a"))
    status = rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest())
    assert status.version.startswith("3.4") and status.leader == status.header.member_id
    # Raft entries: the founding member, the leader's empty entry, the put, and the member's
    # publication of its client URL (which may come later): etcd counts the same way.
    assert status.raftIndex in (3, 4) and status.raftAppliedIndex == status.raftIndex and status.raftTerm == 2
    assert status.header.revision == 2 and status.dbSize > 0


def test_a_killed_process_keeps_its_acknowledged_writes(tmp_path: Path) -> None:
    def start() -> tuple[subprocess.Popen[str], str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cluster.store", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        return proc, line.split()[-1]

    proc, target = start()
    try:
        with grpc.insecure_channel(target) as ch:
            kv = rpc_pb2_grpc.KVStub(ch)
            for i in range(50):
                kv.Put(rpc_pb2.PutRequest(key=b"d%02d" % i, value=b"%d" % i))
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    proc, target = start()
    try:
        with grpc.insecure_channel(target) as ch:
            got = rpc_pb2_grpc.KVStub(ch).Range(rpc_pb2.RangeRequest(key=b"d", range_end=b"e"))
            assert got.count == 50 and got.header.revision == 51 and got.kvs[49].value == b"49"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(10) == 0


def test_client_chosen_watch_ids(watch: WatchClient) -> None:
    assert watch.create(b"a", watch_id=7) == 7
    watch.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"b", watch_id=7)))
    dup = watch.next()
    assert (dup.watch_id, dup.created, dup.canceled) == (-1, True, True)
    assert dup.cancel_reason == "mvcc: duplicate watch ID provided on the WatchStream"
    assert watch.create(b"c") == 0


def test_a_txn_batch_applies_each_transaction_as_if_it_came_alone(channel: grpc.Channel) -> None:
    batch = store_pb2_grpc.StoreKVStub(channel).TxnBatch
    absent = rpc_pb2.Compare(
        key=b"/b/x", target=rpc_pb2.Compare.VERSION, result=rpc_pb2.Compare.EQUAL, version=0
    )
    create_x = rpc_pb2.TxnRequest(compare=[absent], success=[op_put(b"/b/x", b"1")])
    twice = rpc_pb2.TxnRequest(success=[op_put(b"/b/y", b"1"), op_put(b"/b/y", b"2")])  # refused alone
    answer = batch(
        store_pb2.TxnBatchRequest(
            txns=[create_x, twice, create_x, rpc_pb2.TxnRequest(success=[op_put(b"/b/z", b"3")])]
        )
    )
    first, refused, again, z = answer.outcomes
    assert (first.code, first.response.succeeded) == (0, True)
    assert (refused.code, refused.message) == (
        grpc.StatusCode.INVALID_ARGUMENT.value[0],
        "etcdserver: duplicate key given in txn request",
    )
    assert (again.code, again.response.succeeded) == (0, False)  # x exists by then: the batch is in order
    assert (
        z.code == 0 and z.response.header.revision == first.response.header.revision + 1
    )  # each its own revision
    found = rpc_pb2_grpc.KVStub(channel).Range(rpc_pb2.RangeRequest(key=b"/b/", range_end=b"/b0"))
    assert [(kv.key, kv.value) for kv in found.kvs] == [(b"/b/x", b"1"), (b"/b/z", b"3")]  # nothing of y
    with pytest.raises(grpc.RpcError) as too_many:
        batch(store_pb2.TxnBatchRequest(txns=[create_x] * 129))
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "at most 128 transactions in a batch, got 129" in (too_many.value.details() or "")


def op_put(key: bytes, value: bytes) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value))
