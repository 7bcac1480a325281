"""Builders for log entries and requests, so tests read like the operations they perform."""

from __future__ import annotations

import itertools

from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

_ids = itertools.count(1)
Compare = rpc_pb2.Compare


def entry(**request: object) -> store_pb2.Entry:
    return store_pb2.Entry(id=next(_ids), **request)  # type: ignore[arg-type]


def put(key: bytes, value: bytes = b"", **kw: object) -> store_pb2.Entry:
    return entry(put=rpc_pb2.PutRequest(key=key, value=value, **kw))  # type: ignore[arg-type]


def delete(key: bytes, range_end: bytes = b"", prev_kv: bool = False) -> store_pb2.Entry:
    return entry(delete_range=rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end, prev_kv=prev_kv))


def txn(
    compare: list[rpc_pb2.Compare],
    success: list[rpc_pb2.RequestOp],
    failure: list[rpc_pb2.RequestOp] | None = None,
) -> store_pb2.Entry:
    return entry(txn=txn_req(compare, success, failure))


def txn_req(
    compare: list[rpc_pb2.Compare],
    success: list[rpc_pb2.RequestOp],
    failure: list[rpc_pb2.RequestOp] | None = None,
) -> rpc_pb2.TxnRequest:
    return rpc_pb2.TxnRequest(compare=compare, success=success, failure=failure or [])


def compact(revision: int) -> store_pb2.Entry:
    return entry(compaction=rpc_pb2.CompactionRequest(revision=revision))


def grant(ttl: int, lease: int = 0) -> store_pb2.Entry:
    return entry(lease_grant=rpc_pb2.LeaseGrantRequest(TTL=ttl, ID=lease))


def revoke(lease: int) -> store_pb2.Entry:
    return entry(lease_revoke=rpc_pb2.LeaseRevokeRequest(ID=lease))


def op_put(key: bytes, value: bytes = b"", **kw: object) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, **kw))  # type: ignore[arg-type]


def op_get(key: bytes, range_end: bytes = b"", **kw: object) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw))  # type: ignore[arg-type]


def op_del(key: bytes, range_end: bytes = b"") -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key, range_end=range_end))


def op_txn(req: rpc_pb2.TxnRequest) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_txn=req)


def cmp(key: bytes, target: str, result: str, value: object, range_end: bytes = b"") -> rpc_pb2.Compare:
    """cmp(b"k", "VERSION", "EQUAL", 2): the target's own union field carries `value`."""
    field = {
        "VERSION": "version",
        "CREATE": "create_revision",
        "MOD": "mod_revision",
        "VALUE": "value",
        "LEASE": "lease",
    }[target]
    return Compare(
        key=key,
        range_end=range_end,
        target=Compare.CompareTarget.Value(target),
        result=Compare.CompareResult.Value(result),
        **{field: value},  # type: ignore[arg-type]
    )


def get(key: bytes, range_end: bytes = b"", **kw: object) -> rpc_pb2.RangeRequest:
    return rpc_pb2.RangeRequest(key=key, range_end=range_end, **kw)  # type: ignore[arg-type]
