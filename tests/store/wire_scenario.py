"""One scripted conversation with an etcd v3 server, recorded as a transcript.

Run against a real etcd and against raykube's store (test_etcd_wire.py), the transcripts must be
equal: same revisions, key-values, counts, txn results, errors (code and text) and watch
events. Everything goes through raykube's generated stubs, so this also proves that our .proto
field numbers are etcd's. Header fields that differ between any two clusters by nature
(cluster_id, member_id, raft_term) are left out; so are remaining lease TTLs (clock-dependent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from cluster.etcd_keys import prefix_end
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

from .clients import WatchClient

R = rpc_pb2.RangeRequest
C = rpc_pb2.Compare
Op = rpc_pb2.RequestOp
_PER_CLUSTER = {"cluster_id", "member_id", "raft_term"}


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k not in _PER_CLUSTER}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def as_dict(message: Message) -> dict[str, Any]:
    return _clean(MessageToDict(message, preserving_proto_field_name=True))  # type: ignore[no-any-return]


class Transcript:
    def __init__(self) -> None:
        self.lines: list[tuple[str, Any]] = []

    def call(self, label: str, rpc: Callable[[Any], Message], request: Message) -> Message | None:
        try:
            response = rpc(request)
        except grpc.RpcError as err:
            self.lines.append((label, ("error", err.code().name, err.details())))
            return None
        self.lines.append((label, as_dict(response)))
        return response

    def note(self, label: str, value: Any) -> None:
        self.lines.append((label, value))


def _put(key: bytes, value: bytes = b"", **kw: Any) -> Op:
    return Op(request_put=rpc_pb2.PutRequest(key=key, value=value, **kw))


def _get(key: bytes, range_end: bytes = b"", **kw: Any) -> Op:
    return Op(request_range=rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw))


def run(channel: grpc.Channel) -> list[tuple[str, Any]]:
    kv = rpc_pb2_grpc.KVStub(channel)
    lease = rpc_pb2_grpc.LeaseStub(channel)
    t = Transcript()
    watch = WatchClient(channel)
    try:
        _kv(t, kv)
        _txn(t, kv)
        _leases(t, kv, lease)
        _watch(t, kv, watch)
        _compaction(t, kv, channel)
    finally:
        watch.close()
    return t.lines


def _kv(t: Transcript, kv: rpc_pb2_grpc.KVStub) -> None:
    t.call("empty store", kv.Range, R(key=b"a"))
    for key, value in [(b"a", b"1"), (b"ab", b"2"), (b"b", b"3"), (b"c", b"4")]:
        t.call(f"put {key!r}", kv.Put, rpc_pb2.PutRequest(key=key, value=value))
    t.call("put prev_kv", kv.Put, rpc_pb2.PutRequest(key=b"a", value=b"5", prev_kv=True))
    t.call("put ignore_value", kv.Put, rpc_pb2.PutRequest(key=b"b", ignore_value=True, prev_kv=True))
    t.call("ignore_value missing", kv.Put, rpc_pb2.PutRequest(key=b"zz", ignore_value=True))
    t.call("value provided", kv.Put, rpc_pb2.PutRequest(key=b"b", value=b"x", ignore_value=True))
    t.call("empty key", kv.Put, rpc_pb2.PutRequest(key=b""))
    t.call("prefix", kv.Range, R(key=b"a", range_end=prefix_end(b"a")))
    t.call("all from b", kv.Range, R(key=b"b", range_end=b"\0"))
    t.call("all, limit 2", kv.Range, R(key=b"\0", range_end=b"\0", limit=2))
    t.call("desc by mod", kv.Range, R(key=b"\0", range_end=b"\0", sort_order=R.DESCEND, sort_target=R.MOD))
    t.call("by value", kv.Range, R(key=b"\0", range_end=b"\0", sort_target=R.VALUE, limit=3))
    t.call("keys only", kv.Range, R(key=b"a", range_end=b"c", keys_only=True))
    t.call("count only", kv.Range, R(key=b"\0", range_end=b"\0", count_only=True))
    t.call("mod >= 4", kv.Range, R(key=b"\0", range_end=b"\0", min_mod_revision=4, limit=2))
    t.call("create <= 3", kv.Range, R(key=b"\0", range_end=b"\0", max_create_revision=3))
    t.call("at revision 2", kv.Range, R(key=b"\0", range_end=b"\0", revision=2))
    t.call("future revision", kv.Range, R(key=b"a", revision=1000))
    t.call(
        "delete prefix", kv.DeleteRange, rpc_pb2.DeleteRangeRequest(key=b"a", range_end=b"b", prev_kv=True)
    )
    t.call("delete nothing", kv.DeleteRange, rpc_pb2.DeleteRangeRequest(key=b"nothing"))


def _txn(t: Transcript, kv: rpc_pb2_grpc.KVStub) -> None:
    def txn(label: str, compare: list[C], success: list[Op], failure: Sequence[Op] = ()) -> None:
        t.call(label, kv.Txn, rpc_pb2.TxnRequest(compare=compare, success=success, failure=list(failure)))

    c_exists = C(key=b"c", target=C.VERSION, result=C.GREATER, version=0)
    txn("cas ok", [C(key=b"c", target=C.VALUE, result=C.EQUAL, value=b"4")], [_put(b"c", b"5"), _get(b"c")])
    txn(
        "cas fails",
        [C(key=b"c", target=C.VALUE, result=C.EQUAL, value=b"4")],
        [_put(b"c", b"6")],
        [_get(b"c")],
    )
    txn("missing value", [C(key=b"q", target=C.VALUE, result=C.NOT_EQUAL, value=b"x")], [], [_get(b"q")])
    txn("create == 0", [C(key=b"new", target=C.CREATE, result=C.EQUAL, create_revision=0)], [_put(b"new")])
    txn("mod < range", [C(key=b"b", range_end=b"d", target=C.MOD, result=C.LESS, mod_revision=100)], [])
    txn("lease == 0", [C(key=b"b", target=C.LEASE, result=C.EQUAL, lease=0)], [_get(b"b", keys_only=True)])
    inner = rpc_pb2.TxnRequest(
        compare=[c_exists], success=[_put(b"inner", b"t")], failure=[_put(b"inner", b"f")]
    )
    txn("nested", [], [Op(request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"c")), Op(request_txn=inner)])
    txn("duplicate", [], [_put(b"d"), _put(b"d")])
    txn(
        "put under delete",
        [],
        [Op(request_delete_range=rpc_pb2.DeleteRangeRequest(key=b"a", range_end=b"z")), _put(b"m")],
    )
    txn("empty op", [], [Op()])
    txn("future read", [], [_put(b"x"), _get(b"x", revision=1000)])
    t.call("after txns", kv.Range, R(key=b"\0", range_end=b"\0"))


def _leases(t: Transcript, kv: rpc_pb2_grpc.KVStub, lease: rpc_pb2_grpc.LeaseStub) -> None:
    t.call("grant", lease.LeaseGrant, rpc_pb2.LeaseGrantRequest(ID=4242, TTL=60))
    t.call("grant again", lease.LeaseGrant, rpc_pb2.LeaseGrantRequest(ID=4242, TTL=60))
    t.call("put on lease", kv.Put, rpc_pb2.PutRequest(key=b"l1", value=b"v", lease=4242))
    t.call("put on lease 2", kv.Put, rpc_pb2.PutRequest(key=b"l2", value=b"v", lease=4242))
    t.call("ignore_lease", kv.Put, rpc_pb2.PutRequest(key=b"l2", value=b"w", ignore_lease=True))
    t.call("unknown lease", kv.Put, rpc_pb2.PutRequest(key=b"l3", lease=999))
    ttl = lease.LeaseTimeToLive(rpc_pb2.LeaseTimeToLiveRequest(ID=4242, keys=True))
    t.note("ttl", (ttl.ID, ttl.grantedTTL, sorted(ttl.keys), 55 <= ttl.TTL <= 60))  # etcd: any key order
    t.call("ttl of unknown", lease.LeaseTimeToLive, rpc_pb2.LeaseTimeToLiveRequest(ID=999))
    t.call("leases", lease.LeaseLeases, rpc_pb2.LeaseLeasesRequest())
    alive = list(lease.LeaseKeepAlive(iter([rpc_pb2.LeaseKeepAliveRequest(ID=4242)])))
    t.note("keep-alive", [as_dict(a) for a in alive])
    t.call("revoke", lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=4242))
    t.call("revoke again", lease.LeaseRevoke, rpc_pb2.LeaseRevokeRequest(ID=4242))
    t.call("after revoke", kv.Range, R(key=b"l", range_end=b"m"))


def _watch(t: Transcript, kv: rpc_pb2_grpc.KVStub, watch: WatchClient) -> None:
    def create(label: str, **kw: Any) -> int:
        watch.send(rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(**kw)))
        created = watch.next()
        t.note(label, as_dict(created))
        return created.watch_id

    now = kv.Range(R(key=b"a")).header.revision
    everything = create("watch all from 2", key=b"\0", range_end=b"\0", start_revision=2, prev_kv=True)
    replayed = _events(watch, everything, 1)
    while replayed[-1].kv.mod_revision < now:
        replayed += _events(watch, everything, 1)
    t.note("replayed", [as_dict(e) for e in replayed])
    ls = create("watch l-prefix, no deletes", key=b"l", range_end=prefix_end(b"l"), filters=[1], watch_id=50)
    kv.Put(rpc_pb2.PutRequest(key=b"l9", value=b"live"))
    kv.DeleteRange(rpc_pb2.DeleteRangeRequest(key=b"l9"))
    kv.Put(rpc_pb2.PutRequest(key=b"l9", value=b"again"))
    t.note("live, all", [as_dict(e) for e in _events(watch, everything, 3)])
    t.note("live, l-prefix", [as_dict(e) for e in _events(watch, ls, 2)])
    watch.send(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=ls)))
    t.note("cancel", as_dict(_control(watch)))
    watch.send(rpc_pb2.WatchRequest(progress_request=rpc_pb2.WatchProgressRequest()))
    t.note("progress", as_dict(_control(watch)))
    watch.send(rpc_pb2.WatchRequest(cancel_request=rpc_pb2.WatchCancelRequest(watch_id=everything)))
    t.note("cancel all", as_dict(_control(watch)))


_pending: dict[int, list[Any]] = {}


def _events(watch: WatchClient, watch_id: int, n: int) -> list[Any]:
    """The next n events of one watch; events of other watches on the stream are kept for later."""
    got = _pending.setdefault(id(watch) * 1000 + watch_id, [])
    while len(got) < n:
        resp = watch.next()
        assert not resp.canceled, resp
        _pending.setdefault(id(watch) * 1000 + resp.watch_id, []).extend(resp.events)
    out, got[:] = got[:n], got[n:]
    return out


def _control(watch: WatchClient) -> rpc_pb2.WatchResponse:
    """The next response that carries no events (events that arrive first are kept for later)."""
    while True:
        resp = watch.next()
        if not resp.events:
            return resp
        _pending.setdefault(id(watch) * 1000 + resp.watch_id, []).extend(resp.events)


def _compaction(t: Transcript, kv: rpc_pb2_grpc.KVStub, channel: grpc.Channel) -> None:
    t.call("compact 5", kv.Compact, rpc_pb2.CompactionRequest(revision=5))
    t.call("compact 5 again", kv.Compact, rpc_pb2.CompactionRequest(revision=5))
    t.call("compact future", kv.Compact, rpc_pb2.CompactionRequest(revision=10_000))
    t.call("read compacted", kv.Range, R(key=b"\0", range_end=b"\0", revision=4))
    t.call("read at compaction", kv.Range, R(key=b"\0", range_end=b"\0", revision=5))
    watch = WatchClient(channel)
    try:
        watch.send(
            rpc_pb2.WatchRequest(create_request=rpc_pb2.WatchCreateRequest(key=b"b", start_revision=3))
        )
        t.note("watch compacted: created", as_dict(watch.next()))
        t.note("watch compacted: canceled", as_dict(watch.next()))
    finally:
        watch.close()
