"""Request checks that need no state: etcd's v3rpc checks (key.go), word for word in effect.

The gRPC servicers run these at the edge, before anything is proposed, so a malformed request
never takes a log slot; the state machine runs the entry-level check again on apply, so an entry
that bypassed the edge (a bug, or another proposer) still fails the same way on every replica.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.store.errors import (
    DuplicateKey,
    EmptyKey,
    KeyNotFound,
    LeaseProvided,
    TooManyOps,
    ValueProvided,
)
from cluster.store.mvcc.keyrange import KeyRange
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

MAX_TXN_OPS = 128  # etcd's --max-txn-ops default


def check_range(req: rpc_pb2.RangeRequest) -> None:
    if not req.key:
        raise EmptyKey()


def check_put(req: rpc_pb2.PutRequest) -> None:
    if not req.key:
        raise EmptyKey()
    if req.ignore_value and req.value:
        raise ValueProvided()
    if req.ignore_lease and req.lease:
        raise LeaseProvided()


def check_delete(req: rpc_pb2.DeleteRangeRequest) -> None:
    if not req.key:
        raise EmptyKey()


def check_txn(req: rpc_pb2.TxnRequest, max_ops: int = MAX_TXN_OPS) -> None:
    """Shape of the whole txn tree, then etcd's overlap rule for each branch."""
    _check_txn_shape(req, max_ops)
    _check_intervals(req.success)
    _check_intervals(req.failure)


def _check_txn_shape(req: rpc_pb2.TxnRequest, max_ops: int) -> None:
    ops = max(len(req.compare), len(req.success), len(req.failure))
    if ops > max_ops:
        raise TooManyOps()
    for cmp in req.compare:
        if not cmp.key:
            raise EmptyKey()
    for op in (*req.success, *req.failure):
        kind = op.WhichOneof("request")
        if kind == "request_range":
            check_range(op.request_range)
        elif kind == "request_put":
            check_put(op.request_put)
        elif kind == "request_delete_range":
            check_delete(op.request_delete_range)
        elif kind == "request_txn":
            _check_txn_shape(op.request_txn, max_ops - ops)
        else:
            raise KeyNotFound()  # etcd's answer to an empty RequestOp


def _check_intervals(ops: Sequence[rpc_pb2.RequestOp]) -> tuple[set[bytes], list[KeyRange]]:
    """etcd's checkIntervals: no key is put twice, nor put and deleted, on one path of the tree.

    Returns the keys put and ranges deleted by `ops` and their nested txns. The then/else
    branches of a nested txn exclude each other, so they may put the same key.
    """
    dels = [
        KeyRange.of(op.request_delete_range.key, op.request_delete_range.range_end)
        for op in ops
        if op.WhichOneof("request") == "request_delete_range"
    ]
    puts: set[bytes] = set()
    for op in ops:
        if op.WhichOneof("request") != "request_txn":
            continue
        puts_then, dels_then = _check_intervals(op.request_txn.success)
        puts_else, dels_else = _check_intervals(op.request_txn.failure)
        for key in puts_then:
            _claim(key, puts, dels, may_repeat=False)
        for key in puts_else:
            _claim(key, puts, dels, may_repeat=key in puts_then)
        dels += dels_then + dels_else
    for op in ops:
        if op.WhichOneof("request") == "request_put":
            _claim(op.request_put.key, puts, dels, may_repeat=False)
    return puts, dels


def _claim(key: bytes, puts: set[bytes], dels: list[KeyRange], *, may_repeat: bool) -> None:
    if (key in puts and not may_repeat) or any(key in span for span in dels):
        raise DuplicateKey()
    puts.add(key)


def txn_writes(req: rpc_pb2.TxnRequest) -> bool:
    """Whether any branch of the txn tree puts or deletes."""
    for op in (*req.success, *req.failure):
        kind = op.WhichOneof("request")
        if kind in ("request_put", "request_delete_range") or (
            kind == "request_txn" and txn_writes(op.request_txn)
        ):
            return True
    return False


def check_entry(entry: store_pb2.Entry) -> None:
    """The edge checks for whatever request `entry` carries (writes without checks pass)."""
    kind = entry.WhichOneof("request")
    if kind == "put":
        check_put(entry.put)
    elif kind == "delete_range":
        check_delete(entry.delete_range)
    elif kind == "txn":
        check_txn(entry.txn)
