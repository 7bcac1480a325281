"""etcd's v3 data model as a deterministic state machine.

Who calls what: the replicator (cluster/store/raft_replicator.py, on every replica)
feeds committed log entries, in log order, to `apply()`; it is the only way state changes.
Readers call `range()` (and the watch hub reads `events`) on the same thread, between applies.
`snapshot()` / `restore()` move the whole state to and from bytes.

Determinism: the result of `apply()` depends only on the state and the entry: no clock, no
randomness, no I/O. Two machines fed the same entries produce byte-identical snapshots. A failing
entry raises a StoreError before changing anything, so it fails identically everywhere.

Revisions follow etcd: the store starts at revision 1; every entry that changes at least one
key gets the next revision, shared by all its changes (a txn is one revision); an entry that
changes nothing (a txn that only reads, a delete that matches nothing) does not bump it.

Concurrency: none inside. One thread (the node's event loop) owns an instance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any, TypeAlias

from cluster.store.errors import Compacted, FutureRevision, KeyNotFound, LeaseNotFound
from cluster.store.mvcc.events import EventLog
from cluster.store.mvcc.keyrange import KeyRange
from cluster.store.mvcc.keyspace import Change, Keyspace, Rev
from cluster.store.mvcc.leases import LeaseTable
from cluster.store.mvcc.validation import check_entry, txn_writes
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.etcd.mvccpb import kv_pb2
from raykube.store.v1 import store_pb2

Response: TypeAlias = (
    rpc_pb2.PutResponse
    | rpc_pb2.DeleteRangeResponse
    | rpc_pb2.TxnResponse
    | rpc_pb2.CompactionResponse
    | rpc_pb2.LeaseGrantResponse
    | rpc_pb2.LeaseRevokeResponse
)

_Compare = rpc_pb2.Compare
_Range = rpc_pb2.RangeRequest
_SORT_KEYS: dict[int, Callable[[tuple[bytes, Rev]], Any]] = {
    _Range.KEY: itemgetter(0),
    _Range.VERSION: lambda item: item[1].version,
    _Range.CREATE: lambda item: item[1].create,
    _Range.MOD: lambda item: item[1].mod,
    _Range.VALUE: lambda item: item[1].value,
}
_COMPARE_FIELDS = {
    _Compare.VERSION: ("version", "version"),
    _Compare.CREATE: ("create_revision", "create"),
    _Compare.MOD: ("mod_revision", "mod"),
    _Compare.LEASE: ("lease", "lease"),
    _Compare.VALUE: ("value", "value"),
}
_ABSENT = Rev(0, 0, 0, 0, b"", 0)


def to_kv(key: bytes, rev: Rev, keys_only: bool = False) -> kv_pb2.KeyValue:
    return kv_pb2.KeyValue(
        key=key,
        create_revision=rev.create,
        mod_revision=rev.mod,
        version=rev.version,
        value=b"" if keys_only else rev.value,
        lease=rev.lease,
    )


class _Write:
    """The revision one entry writes: every change gets main revision `rev`, sub = its order."""

    __slots__ = ("changes", "rev")

    def __init__(self, current: int) -> None:
        self.rev = current + 1
        self.changes: list[Change] = []

    @property
    def read_rev(self) -> int:
        """The revision reads inside this entry see (its own changes included)."""
        return self.rev if self.changes else self.rev - 1


class StateMachine:
    def __init__(self) -> None:
        self._keys = Keyspace()
        self._leases = LeaseTable()
        self.events = EventLog()
        self._rev = 1
        self._compact_rev = -1  # etcd's compactMainRev before any compaction
        self._apply: dict[str, Callable[[Any], Response]] = {
            "put": self._apply_put,
            "delete_range": self._apply_delete_range,
            "txn": self._apply_txn,
            "compaction": self._apply_compaction,
            "lease_grant": self._apply_lease_grant,
            "lease_revoke": self._apply_lease_revoke,
        }

    @property
    def revision(self) -> int:
        return self._rev

    @property
    def compact_revision(self) -> int:
        return self._compact_rev

    # -- writes ------------------------------------------------------------------------------

    def apply(self, entry: store_pb2.Entry | bytes) -> Response:
        """Apply one committed entry; raises StoreError (state untouched) if it is refused."""
        if isinstance(entry, bytes):
            entry = store_pb2.Entry.FromString(entry)
        kind = entry.WhichOneof("request")
        if kind is None:
            raise ValueError(f"log entry {entry.id} carries no request")
        check_entry(entry)
        return self._apply[kind](getattr(entry, kind))

    def _commit(self, write: _Write) -> int:
        """Close a write: bump the revision if it changed anything; returns the header revision."""
        if write.changes:
            self._rev = write.rev
            self.events.append(write.rev, write.changes)
        return self._rev

    def _apply_put(self, req: rpc_pb2.PutRequest) -> rpc_pb2.PutResponse:
        self._check_put(req)
        write = _Write(self._rev)
        resp = self._put(write, req)
        self._commit(write)
        return resp

    def _apply_delete_range(self, req: rpc_pb2.DeleteRangeRequest) -> rpc_pb2.DeleteRangeResponse:
        write = _Write(self._rev)
        resp = self._delete_range(write, req)
        self._commit(write)
        return resp

    def _apply_txn(self, req: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        # Every compare of the tree is evaluated, and every chosen op checked, against the state
        # before the txn (etcd: compareToPath, checkRequests); only then does anything change.
        path = self._decide(req)
        self._check_ops(req, iter(path))
        write = _Write(self._rev)
        resp = self._txn(write, req, iter(path))
        resp.header.revision = self._commit(write)
        return resp

    def _apply_compaction(self, req: rpc_pb2.CompactionRequest) -> rpc_pb2.CompactionResponse:
        if req.revision <= self._compact_rev:
            raise Compacted()
        if req.revision > self._rev:
            raise FutureRevision()
        self._compact_rev = req.revision
        self._keys.compact(req.revision)
        self.events.compact(req.revision)
        return rpc_pb2.CompactionResponse(header=rpc_pb2.ResponseHeader(revision=self._rev))

    def _apply_lease_grant(self, req: rpc_pb2.LeaseGrantRequest) -> rpc_pb2.LeaseGrantResponse:
        lease, ttl = self._leases.grant(req.ID, req.TTL)
        header = rpc_pb2.ResponseHeader(revision=self._rev)
        return rpc_pb2.LeaseGrantResponse(header=header, ID=lease, TTL=ttl)

    def _apply_lease_revoke(self, req: rpc_pb2.LeaseRevokeRequest) -> rpc_pb2.LeaseRevokeResponse:
        write = _Write(self._rev)
        for key in self._leases.revoke(req.ID):
            write.changes.append(self._keys.delete(key, write.rev, len(write.changes)))
        return rpc_pb2.LeaseRevokeResponse(header=rpc_pb2.ResponseHeader(revision=self._commit(write)))

    def _put(self, write: _Write, req: rpc_pb2.PutRequest) -> rpc_pb2.PutResponse:
        key = req.key
        prev = self._keys.get(key, write.rev)
        value = prev.value if req.ignore_value and prev else req.value
        lease = prev.lease if req.ignore_lease and prev else req.lease
        change = self._keys.put(key, value, lease, write.rev, len(write.changes))
        write.changes.append(change)
        if prev is not None and prev.lease:
            self._leases.detach(prev.lease, key)
        if lease:
            self._leases.attach(lease, key)
        resp = rpc_pb2.PutResponse(header=rpc_pb2.ResponseHeader(revision=write.rev))
        if req.prev_kv and prev is not None:
            resp.prev_kv.CopyFrom(to_kv(key, prev))
        return resp

    def _delete_range(self, write: _Write, req: rpc_pb2.DeleteRangeRequest) -> rpc_pb2.DeleteRangeResponse:
        live = list(self._keys.range(KeyRange.of(req.key, req.range_end), write.rev))
        resp = rpc_pb2.DeleteRangeResponse(deleted=len(live))
        for key, prev in live:
            write.changes.append(self._keys.delete(key, write.rev, len(write.changes)))
            if prev.lease:
                self._leases.detach(prev.lease, key)
            if req.prev_kv:
                resp.prev_kvs.append(to_kv(key, prev))
        resp.header.revision = write.read_rev
        return resp

    def _txn(self, write: _Write, req: rpc_pb2.TxnRequest, path: Iterator[bool]) -> rpc_pb2.TxnResponse:
        succeeded = next(path)
        resp = rpc_pb2.TxnResponse(succeeded=succeeded)
        for op in req.success if succeeded else req.failure:
            kind = op.WhichOneof("request")
            out = resp.responses.add()
            if kind == "request_range":
                out.response_range.CopyFrom(self._range(op.request_range, write.read_rev))
            elif kind == "request_put":
                out.response_put.CopyFrom(self._put(write, op.request_put))
            elif kind == "request_delete_range":
                out.response_delete_range.CopyFrom(self._delete_range(write, op.request_delete_range))
            else:
                out.response_txn.CopyFrom(self._txn(write, op.request_txn, path))
                out.response_txn.header.SetInParent()  # etcd: nested txns carry an empty header
        return resp

    # -- txn decisions and checks, all against the state before the txn ------------------------

    def _decide(self, req: rpc_pb2.TxnRequest) -> list[bool]:
        """Outcome of every txn on the chosen path, depth first (etcd's txnPath)."""
        succeeded = all(self._compare(c) for c in req.compare)
        path = [succeeded]
        for op in req.success if succeeded else req.failure:
            if op.WhichOneof("request") == "request_txn":
                path += self._decide(op.request_txn)
        return path

    def _compare(self, cmp: rpc_pb2.Compare) -> bool:
        found = [rev for _, rev in self._keys.range(KeyRange.of(cmp.key, cmp.range_end), self._rev)]
        if not found:
            if cmp.target == _Compare.VALUE:
                return False  # etcd: a value compare on a missing key always fails
            found = [_ABSENT]
        field, attr = _COMPARE_FIELDS[cmp.target]
        zero: Any = b"" if cmp.target == _Compare.VALUE else 0
        want = getattr(cmp, field) if cmp.WhichOneof("target_union") == field else zero
        result = cmp.result
        for rev in found:
            have = getattr(rev, attr)
            if result == _Compare.EQUAL:
                ok = have == want
            elif result == _Compare.NOT_EQUAL:
                ok = have != want
            elif result == _Compare.GREATER:
                ok = have > want
            else:
                ok = have < want
            if not ok:
                return False
        return True

    def _check_ops(self, req: rpc_pb2.TxnRequest, path: Iterator[bool]) -> None:
        for op in req.success if next(path) else req.failure:
            kind = op.WhichOneof("request")
            if kind == "request_range":
                self._check_revision(op.request_range.revision)
            elif kind == "request_put":
                self._check_put(op.request_put)
            elif kind == "request_txn":
                self._check_ops(op.request_txn, path)

    def _check_put(self, req: rpc_pb2.PutRequest) -> None:
        if (req.ignore_value or req.ignore_lease) and self._keys.get(req.key, self._rev) is None:
            raise KeyNotFound()
        if req.lease and req.lease not in self._leases:
            raise LeaseNotFound()

    def _check_revision(self, rev: int) -> None:
        if rev == 0:
            return
        if rev > self._rev:
            raise FutureRevision()
        if rev < self._compact_rev:
            raise Compacted()

    # -- reads -------------------------------------------------------------------------------

    def read_txn(self, req: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        """Run a txn none of whose branches writes (validation.txn_writes is false).

        It changes nothing, so like etcd it runs against local state after a read barrier
        instead of taking a log slot.
        """
        if txn_writes(req):
            raise ValueError("read_txn() got a txn that writes: it must go through the log")
        return self._apply_txn(req)

    def range(self, req: rpc_pb2.RangeRequest) -> rpc_pb2.RangeResponse:
        """A read at the current revision (or at req.revision), with etcd's Range semantics."""
        return self._range(req, self._rev)

    def _range(self, req: rpc_pb2.RangeRequest, current: int) -> rpc_pb2.RangeResponse:
        rev = req.revision
        if rev > current:
            raise FutureRevision()
        if rev <= 0:
            rev = current
        if rev < self._compact_rev:
            raise Compacted()
        resp = rpc_pb2.RangeResponse(header=rpc_pb2.ResponseHeader(revision=current))
        hits = self._keys.range(KeyRange.of(req.key, req.range_end), rev)
        if req.count_only:
            resp.count = sum(1 for _ in hits)
            return resp
        limit, order = req.limit, req.sort_order
        if req.sort_target != _Range.KEY and order == _Range.NONE:
            order = _Range.ASCEND
        filtered = (
            req.min_mod_revision or req.max_mod_revision or req.min_create_revision or req.max_create_revision
        )
        if not filtered and req.sort_target == _Range.KEY and order != _Range.DESCEND:
            # Key order is the keyspace's own order: no need to hold more than `limit` items.
            items: list[tuple[bytes, Rev]] = []
            count = 0
            for item in hits:
                count += 1
                if not limit or count <= limit:
                    items.append(item)
            resp.more = bool(limit) and count > limit
        else:
            # etcd fetches everything, filters, sorts, then cuts at `limit`; `count` stays the
            # number of keys in the range before filtering.
            everything = list(hits)
            count = len(everything)
            items = [item for item in everything if _passes_filters(req, item[1])]
            if order != _Range.NONE:
                items.sort(key=_SORT_KEYS[req.sort_target], reverse=order == _Range.DESCEND)
            resp.more = bool(limit) and len(items) > limit
            del items[limit or len(items) :]
        resp.count = count
        keys_only = req.keys_only
        resp.kvs.extend(to_kv(key, rev, keys_only) for key, rev in items)
        return resp

    # -- leases (data only; the shell decides when they expire) -------------------------------

    def lease_ids(self) -> list[int]:
        return [lease for lease, _ in self._leases.items()]

    def lease_granted_ttl(self, lease: int) -> int:
        return self._leases.granted_ttl(lease)

    def lease_keys(self, lease: int) -> list[bytes]:
        return self._leases.keys(lease)

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole state as bytes; equal states give equal bytes."""
        snap = store_pb2.StateSnapshot(
            revision=self._rev, compact_revision=self._compact_rev, lease_id_seq=self._leases.seq
        )
        for key, hist in self._keys.histories():
            snap.keys.add(
                key=key,
                revisions=[
                    store_pb2.KeyRevision(
                        mod_revision=r.mod,
                        sub=r.sub,
                        create_revision=r.create,
                        version=r.version,
                        value=r.value,
                        lease=r.lease,
                    )
                    for r in hist
                ],
            )
        snap.leases.extend(store_pb2.LeaseState(id=i, granted_ttl=ttl) for i, ttl in self._leases.items())
        return snap.SerializeToString(deterministic=True)

    def reset(self, data: bytes) -> None:
        """Become the state in snapshot `data`, in place: whoever holds this machine sees it.

        A replica that falls behind the leader's log is brought up to date this way, under the
        servicers' and watchers' feet; watchers simply read on from their next revision.
        """
        other = StateMachine.restore(data)
        self._keys, self._leases, self.events = other._keys, other._leases, other.events
        self._rev, self._compact_rev = other._rev, other._compact_rev

    @classmethod
    def restore(cls, data: bytes) -> StateMachine:
        snap = store_pb2.StateSnapshot.FromString(data)
        machine = cls()
        machine._rev, machine._compact_rev = snap.revision, snap.compact_revision
        histories = [(kh.key, [_rev_of(r) for r in kh.revisions]) for kh in snap.keys]
        machine._keys = Keyspace.from_histories(histories)
        machine._leases = LeaseTable(((ls.id, ls.granted_ttl) for ls in snap.leases), snap.lease_id_seq)
        changes: list[Change] = []
        for key, hist in histories:
            changes += (Change(key, rev, hist[i - 1] if i else None) for i, rev in enumerate(hist))
            if hist[-1].lease:
                machine._leases.attach(hist[-1].lease, key)
        machine.events = EventLog.from_changes(changes)
        return machine


def _rev_of(r: store_pb2.KeyRevision) -> Rev:
    return Rev(r.mod_revision, r.sub, r.create_revision, r.version, r.value, r.lease)


def _passes_filters(req: rpc_pb2.RangeRequest, rev: Rev) -> bool:
    return not (
        (req.max_mod_revision and rev.mod > req.max_mod_revision)
        or (req.min_mod_revision and rev.mod < req.min_mod_revision)
        or (req.max_create_revision and rev.create > req.max_create_revision)
        or (req.min_create_revision and rev.create < req.min_create_revision)
    )
