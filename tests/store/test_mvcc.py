"""The MVCC state machine: etcd's v3 semantics, driven only through apply() and range()."""

from __future__ import annotations

import random

import pytest

from cluster.etcd_keys import prefix_end
from cluster.store import errors
from cluster.store.mvcc.state_machine import StateMachine
from raykube.etcd.etcdserverpb import rpc_pb2

from .entries import (
    cmp,
    compact,
    delete,
    get,
    grant,
    op_del,
    op_get,
    op_put,
    op_txn,
    put,
    revoke,
    txn,
    txn_req,
)

R = rpc_pb2.RangeRequest


def kvs(resp: rpc_pb2.RangeResponse) -> list[tuple[bytes, bytes]]:
    return [(kv.key, kv.value) for kv in resp.kvs]


def keys(resp: rpc_pb2.RangeResponse) -> list[bytes]:
    return [kv.key for kv in resp.kvs]


@pytest.fixture
def sm() -> StateMachine:
    return StateMachine()


def test_revisions_versions_and_create_revision(sm: StateMachine) -> None:
    assert sm.revision == 1  # etcd starts at revision 1
    assert sm.apply(put(b"a", b"1")).header.revision == 2
    assert sm.apply(put(b"a", b"2")).header.revision == 3
    kv = sm.range(get(b"a")).kvs[0]
    assert (kv.create_revision, kv.mod_revision, kv.version, kv.value) == (2, 3, 2, b"2")
    sm.apply(delete(b"a"))
    sm.apply(put(b"a", b"3"))
    kv = sm.range(get(b"a")).kvs[0]
    assert (kv.create_revision, kv.mod_revision, kv.version) == (5, 5, 1)  # a new generation


def test_put_from_bytes_entry(sm: StateMachine) -> None:
    sm.apply(put(b"a", b"1").SerializeToString())
    assert kvs(sm.range(get(b"a"))) == [(b"a", b"1")]


@pytest.fixture
def abc(sm: StateMachine) -> StateMachine:
    for key in (b"a", b"ab", b"abc", b"b", b"c", b"\xff"):
        sm.apply(put(key, key.upper()))
    return sm


@pytest.mark.parametrize(
    ("key", "range_end", "want"),
    [
        (b"a", b"", [b"a"]),
        (b"zz", b"", []),
        (b"a", prefix_end(b"a"), [b"a", b"ab", b"abc"]),
        (b"ab", prefix_end(b"ab"), [b"ab", b"abc"]),
        (b"ab", b"c", [b"ab", b"abc", b"b"]),
        (b"b", b"\0", [b"b", b"c", b"\xff"]),
        (b"\0", b"\0", [b"a", b"ab", b"abc", b"b", b"c", b"\xff"]),
        (b"c", b"a", []),
        (b"\xff", prefix_end(b"\xff"), [b"\xff"]),
    ],
)
def test_range_end_semantics(abc: StateMachine, key: bytes, range_end: bytes, want: list[bytes]) -> None:
    assert keys(abc.range(get(key, range_end))) == want


def test_prefix_end() -> None:
    assert prefix_end(b"a") == b"b"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") == b"\0"


def test_limit_more_count(abc: StateMachine) -> None:
    resp = abc.range(get(b"\0", b"\0", limit=2))
    assert (keys(resp), resp.more, resp.count) == ([b"a", b"ab"], True, 6)
    resp = abc.range(get(b"\0", b"\0", limit=6))
    assert (len(resp.kvs), resp.more, resp.count) == (6, False, 6)
    resp = abc.range(get(b"a", prefix_end(b"a"), count_only=True))
    assert (list(resp.kvs), resp.count) == ([], 3)
    resp = abc.range(get(b"a", keys_only=True))
    assert (resp.kvs[0].key, resp.kvs[0].value, resp.kvs[0].mod_revision) == (b"a", b"", 2)


def test_sorting(sm: StateMachine) -> None:
    sm.apply(put(b"a", b"z"))
    sm.apply(put(b"b", b"y"))
    sm.apply(put(b"c", b"x"))
    sm.apply(put(b"a", b"w"))  # a: mod 5, version 2
    every = (b"\0", b"\0")
    assert keys(sm.range(get(*every, sort_order=R.DESCEND))) == [b"c", b"b", b"a"]
    assert keys(sm.range(get(*every, sort_target=R.VALUE))) == [b"a", b"c", b"b"]  # target alone: ascend
    assert keys(sm.range(get(*every, sort_target=R.MOD, sort_order=R.DESCEND))) == [b"a", b"c", b"b"]
    assert keys(sm.range(get(*every, sort_target=R.CREATE, sort_order=R.DESCEND))) == [b"c", b"b", b"a"]
    assert keys(sm.range(get(*every, sort_target=R.VERSION, sort_order=R.DESCEND)))[0] == b"a"
    resp = sm.range(get(*every, sort_order=R.DESCEND, limit=1))
    assert (keys(resp), resp.more, resp.count) == ([b"c"], True, 3)


def test_revision_filters(sm: StateMachine) -> None:
    for key in (b"a", b"b", b"c", b"d"):  # revisions 2..5
        sm.apply(put(key))
    sm.apply(put(b"a"))  # a: create 2, mod 6
    every = (b"\0", b"\0")
    assert keys(sm.range(get(*every, min_mod_revision=4))) == [b"a", b"c", b"d"]
    assert keys(sm.range(get(*every, max_mod_revision=4))) == [b"b", b"c"]
    assert keys(sm.range(get(*every, min_create_revision=3, max_create_revision=4))) == [b"b", b"c"]
    resp = sm.range(get(*every, min_mod_revision=4, limit=2))
    assert (keys(resp), resp.more, resp.count) == ([b"a", b"c"], True, 4)  # count ignores filters


def test_range_at_older_revision(sm: StateMachine) -> None:
    sm.apply(put(b"a", b"1"))  # 2
    sm.apply(put(b"a", b"2"))  # 3
    sm.apply(delete(b"a"))  # 4
    sm.apply(put(b"b", b"x"))  # 5
    assert kvs(sm.range(get(b"a", revision=2))) == [(b"a", b"1")]
    assert kvs(sm.range(get(b"a", revision=3))) == [(b"a", b"2")]
    assert kvs(sm.range(get(b"a", revision=4))) == []
    assert keys(sm.range(get(b"\0", b"\0", revision=3))) == [b"a"]
    assert sm.range(get(b"a", revision=2)).header.revision == 5  # the header says "now"
    with pytest.raises(errors.FutureRevision):
        sm.range(get(b"a", revision=6))


def test_put_options_and_errors(sm: StateMachine) -> None:
    assert not sm.apply(put(b"a", b"1", prev_kv=True)).HasField("prev_kv")
    assert sm.apply(put(b"a", b"2", prev_kv=True)).prev_kv.value == b"1"
    lease = sm.apply(grant(60)).ID
    sm.apply(put(b"a", lease=lease))
    sm.apply(put(b"a", b"3", ignore_lease=True))
    sm.apply(put(b"a", ignore_value=True))
    kv = sm.range(get(b"a")).kvs[0]
    assert (kv.value, kv.lease) == (b"3", 0)  # ignore_value kept "3"; the plain put cleared the lease
    with pytest.raises(errors.KeyNotFound):
        sm.apply(put(b"missing", ignore_value=True))
    with pytest.raises(errors.LeaseNotFound):
        sm.apply(put(b"a", lease=12345))
    with pytest.raises(errors.ValueProvided):
        sm.apply(put(b"a", b"v", ignore_value=True))
    with pytest.raises(errors.LeaseProvided):
        sm.apply(put(b"a", lease=lease, ignore_lease=True))
    with pytest.raises(errors.EmptyKey):
        sm.apply(put(b""))
    assert sm.revision == 6  # no failed entry moved the revision


def test_delete_range(abc: StateMachine) -> None:
    resp = abc.apply(delete(b"a", prefix_end(b"a"), prev_kv=True))
    assert (resp.deleted, [kv.key for kv in resp.prev_kvs], resp.header.revision) == (
        3,
        [b"a", b"ab", b"abc"],
        8,
    )
    resp = abc.apply(delete(b"a", prefix_end(b"a")))
    assert (resp.deleted, resp.header.revision, abc.revision) == (0, 8, 8)  # nothing deleted: no new revision
    assert [(c.key, c.rev.mod, c.rev.sub) for c in abc.events.since(8, 10)[0][1]] == [
        (b"a", 8, 0),
        (b"ab", 8, 1),
        (b"abc", 8, 2),
    ]


# Compare semantics: state is a=("1", version 2, create 2, mod 3), b absent.
@pytest.mark.parametrize(
    ("compare", "succeeds"),
    [
        (cmp(b"a", "VERSION", "EQUAL", 2), True),
        (cmp(b"a", "VERSION", "GREATER", 1), True),
        (cmp(b"a", "VERSION", "LESS", 2), False),
        (cmp(b"a", "VERSION", "NOT_EQUAL", 2), False),
        (cmp(b"a", "CREATE", "EQUAL", 2), True),
        (cmp(b"a", "MOD", "EQUAL", 3), True),
        (cmp(b"a", "MOD", "LESS", 3), False),
        (cmp(b"a", "VALUE", "EQUAL", b"1"), True),
        (cmp(b"a", "VALUE", "GREATER", b"0"), True),
        (cmp(b"a", "VALUE", "LESS", b"0"), False),
        (cmp(b"a", "LEASE", "EQUAL", 0), True),
        (cmp(b"b", "VERSION", "EQUAL", 0), True),  # a missing key compares as all zero
        (cmp(b"b", "CREATE", "EQUAL", 0), True),
        (cmp(b"b", "VALUE", "EQUAL", b""), False),  # ... except by value: always false
        (cmp(b"b", "VALUE", "NOT_EQUAL", b"x"), False),
        (cmp(b"a", "VERSION", "GREATER", 0, range_end=b"c"), True),  # over a range: all must hold
        (cmp(b"\0", "VERSION", "GREATER", 1, range_end=b"\0"), False),  # c has version 1
        (cmp(b"a", "MOD", "EQUAL", 0), False),
    ],
)
def test_compare(sm: StateMachine, compare: rpc_pb2.Compare, succeeds: bool) -> None:
    sm.apply(put(b"a", b"0"))
    sm.apply(put(b"a", b"1"))
    sm.apply(put(b"c", b"c"))
    assert sm.apply(txn([compare], [])).succeeded is succeeds


def test_compare_reads_only_its_own_union_field(sm: StateMachine) -> None:
    sm.apply(put(b"a"))
    mismatched = rpc_pb2.Compare(
        key=b"a", target=rpc_pb2.Compare.VERSION, result=rpc_pb2.Compare.EQUAL, mod_revision=1
    )
    assert sm.apply(txn([mismatched], [])).succeeded is False  # version 1 compared with 0


def test_txn_is_one_revision(sm: StateMachine) -> None:
    sm.apply(put(b"x", b"old"))
    resp = sm.apply(
        txn(
            [cmp(b"x", "VALUE", "EQUAL", b"old")],
            [op_put(b"x", b"new"), op_put(b"y", b"1"), op_get(b"x"), op_del(b"z")],
        )
    )
    assert resp.succeeded and resp.header.revision == 3 and sm.revision == 3
    put_x, _, get_x, del_z = resp.responses
    assert put_x.response_put.header.revision == 3
    assert get_x.response_range.kvs[0].value == b"new"  # reads see the txn's own writes
    assert get_x.response_range.header.revision == 3
    assert del_z.response_delete_range.deleted == 0
    assert [(c.key, c.rev.sub) for _, batch in sm.events.since(3, 10) for c in batch] == [
        (b"x", 0),
        (b"y", 1),
    ]


def test_read_only_txn_does_not_bump(sm: StateMachine) -> None:
    sm.apply(put(b"x"))
    resp = sm.apply(txn([cmp(b"x", "VERSION", "EQUAL", 5)], [op_put(b"x")], [op_get(b"x")]))
    assert (resp.succeeded, resp.header.revision, sm.revision) == (False, 2, 2)
    assert resp.responses[0].response_range.kvs[0].key == b"x"


def test_nested_txn_compares_see_state_before_the_txn(sm: StateMachine) -> None:
    inner = txn_req(
        [cmp(b"k", "VERSION", "EQUAL", 0)], [op_put(b"inner", b"then")], [op_put(b"inner", b"else")]
    )
    resp = sm.apply(txn([], [op_put(b"k", b"v"), op_txn(inner)]))
    nested = resp.responses[1].response_txn
    assert nested.succeeded is True  # k did not exist when the txn began
    assert nested.HasField("header") and nested.header.revision == 0  # etcd: empty header on nested txns
    assert kvs(sm.range(get(b"inner"))) == [(b"inner", b"then")]
    assert sm.revision == 2


@pytest.mark.parametrize(
    "ops",
    [
        [op_put(b"a"), op_put(b"a")],
        [op_del(b"a", b"c"), op_put(b"b")],
        [op_put(b"a"), op_txn(txn_req([], [op_put(b"a")]))],
        [op_del(b"\0", b"\0"), op_put(b"q")],
        [op_txn(txn_req([], [op_del(b"a", b"z")])), op_txn(txn_req([], [op_put(b"m")]))],
    ],
)
def test_duplicate_keys_rejected(sm: StateMachine, ops: list[rpc_pb2.RequestOp]) -> None:
    with pytest.raises(errors.DuplicateKey):
        sm.apply(txn([], ops))
    assert sm.revision == 1


def test_then_and_else_may_put_the_same_key(sm: StateMachine) -> None:
    sm.apply(txn([], [op_txn(txn_req([], [op_put(b"a")], [op_put(b"a")]))]))
    assert sm.revision == 2


def test_txn_errors_change_nothing(sm: StateMachine) -> None:
    sm.apply(put(b"a"))
    for bad in (
        [op_put(b"b"), op_put(b"a", lease=99)],
        [op_put(b"b"), op_put(b"missing", ignore_value=True)],
        [op_put(b"b"), op_get(b"a", revision=50)],
    ):
        with pytest.raises((errors.LeaseNotFound, errors.KeyNotFound, errors.FutureRevision)):
            sm.apply(txn([], bad))
    assert sm.revision == 2 and not sm.range(get(b"b")).kvs
    with pytest.raises(errors.TooManyOps):
        sm.apply(txn([], [op_put(bytes([i])) for i in range(1, 130)]))
    with pytest.raises(errors.EmptyKey):
        sm.apply(txn([cmp(b"", "VERSION", "EQUAL", 0)], []))
    with pytest.raises(errors.KeyNotFound):
        sm.apply(txn([], [rpc_pb2.RequestOp()]))


def test_compaction(sm: StateMachine) -> None:
    sm.apply(put(b"a", b"1"))  # 2
    sm.apply(put(b"a", b"2"))  # 3
    sm.apply(put(b"gone", b"x"))  # 4
    sm.apply(delete(b"gone"))  # 5
    sm.apply(put(b"a", b"3"))  # 6
    sm.apply(compact(5))
    assert sm.compact_revision == 5
    assert kvs(sm.range(get(b"a", revision=5))) == [(b"a", b"2")]  # the compaction revision stays readable
    assert kvs(sm.range(get(b"\0", b"\0", revision=5))) == [(b"a", b"2")]
    with pytest.raises(errors.Compacted):
        sm.range(get(b"a", revision=4))
    with pytest.raises(errors.Compacted):
        sm.apply(compact(5))
    with pytest.raises(errors.FutureRevision):
        sm.apply(compact(7))
    assert [rev for rev, _ in sm.events.since(0, 100)] == [6]  # the delete at 5 is gone, like etcd's
    assert sm.range(get(b"a")).kvs[0].version == 3
    assert sm.apply(compact(6)).header.revision == 6


def test_leases(sm: StateMachine) -> None:
    lease = sm.apply(grant(30)).ID
    assert lease > 0 and lease == StateMachine().apply(grant(30)).ID  # deterministic ID
    assert sm.apply(grant(10, lease=7)).ID == 7
    with pytest.raises(errors.LeaseExists):
        sm.apply(grant(10, lease=7))
    with pytest.raises(errors.LeaseTTLTooLarge):
        sm.apply(grant(10**10))
    sm.apply(put(b"a", lease=lease))
    sm.apply(put(b"b", lease=lease))
    sm.apply(put(b"c", lease=7))
    sm.apply(put(b"c", lease=lease))  # moves c from 7 to lease
    sm.apply(put(b"b"))  # detaches b
    sm.apply(put(b"d", lease=lease))
    sm.apply(delete(b"d"))  # deleting detaches too
    assert sm.lease_keys(lease) == [b"a", b"c"] and sm.lease_keys(7) == []
    rev = sm.revision
    assert sm.apply(revoke(lease)).header.revision == rev + 1
    assert keys(sm.range(get(b"\0", b"\0"))) == [b"b"]
    assert [c.key for c in sm.events.since(rev + 1, 1)[0][1]] == [b"a", b"c"]  # one revision for both
    assert sm.lease_ids() == [7]
    with pytest.raises(errors.LeaseNotFound):
        sm.apply(revoke(lease))
    assert sm.apply(revoke(7)).header.revision == rev + 1  # no keys: no new revision


def random_entries(seed: int, n: int) -> list[object]:
    """A mixed workload over a small keyspace; some entries fail, and must fail everywhere alike."""
    rng = random.Random(seed)
    out: list[object] = []
    key = lambda: bytes([97 + rng.randrange(6)]) * rng.randrange(1, 3)  # noqa: E731
    for i in range(n):
        roll = rng.random()
        if roll < 0.45:
            out.append(put(key(), str(i).encode(), lease=rng.choice([0, 0, 0, 1001])))
        elif roll < 0.6:
            out.append(delete(key(), rng.choice([b"", prefix_end(b"a"), b"\0"])))
        elif roll < 0.8:
            k = key()
            out.append(
                txn([cmp(k, "VERSION", "GREATER", 1)], [op_put(k, b"t")], [op_del(k), op_put(key() + b"!")])
            )
        elif roll < 0.85:
            out.append(compact(rng.randrange(1, 3 + i)))
        elif roll < 0.95:
            out.append(grant(60, lease=1001))
        else:
            out.append(revoke(1001))
    return out


def feed(sm: StateMachine, entries: list[object]) -> list[str]:
    outcomes = []
    for e in entries:
        try:
            outcomes.append(str(sm.apply(e)))  # type: ignore[arg-type]
        except errors.StoreError as err:
            outcomes.append(type(err).__name__)
    return outcomes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_determinism_and_snapshot_round_trip(seed: int) -> None:
    entries = random_entries(seed, 400)
    one, two = StateMachine(), StateMachine()
    assert feed(one, entries) == feed(two, entries)
    assert one.snapshot() == two.snapshot()
    # Restore halfway, continue: same end state, same answers, byte for byte.
    three = StateMachine()
    feed(three, entries[:200])
    three = StateMachine.restore(three.snapshot())
    assert StateMachine.restore(three.snapshot()).snapshot() == three.snapshot()
    feed(three, entries[200:])
    assert three.snapshot() == one.snapshot()
    every = get(b"\0", b"\0")
    assert three.range(every) == one.range(every)
    assert [(r, [(c.key, c.rev) for c in b]) for r, b in three.events.since(0, 10**6)] == [
        (r, [(c.key, c.rev) for c in b]) for r, b in one.events.since(0, 10**6)
    ]


def test_ranges_agree_with_a_naive_model() -> None:
    """Every revision's full keyspace, kept naively, against range(revision=...) after compaction."""
    rng = random.Random(7)
    sm = StateMachine()
    model: dict[bytes, bytes] = {}
    history = {1: {}}
    for i in range(300):
        k = bytes([97 + rng.randrange(8)])
        if rng.random() < 0.7:
            sm.apply(put(k, str(i).encode()))
            model[k] = str(i).encode()
        elif sm.apply(delete(k)).deleted:
            del model[k]
        history[sm.revision] = dict(model)
    sm.apply(compact(150))
    for rev in range(150, sm.revision + 1):
        want = history[max(r for r in history if r <= rev)]
        got = sm.range(get(b"\0", b"\0", revision=rev))
        assert kvs(got) == sorted(want.items()), rev
        lo, hi = b"c", b"f"
        assert kvs(sm.range(get(lo, hi, revision=rev))) == sorted(
            (k, v) for k, v in want.items() if lo <= k < hi
        )
