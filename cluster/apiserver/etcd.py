"""The API server's view of the store: an etcd v3 client reduced to what a registry needs.

Like kube-apiserver's etcd3 storage: create is a transaction "create if absent", update and
delete are transactions conditioned on the mod revision the caller read (optimistic
concurrency), list returns the store revision it was read at, and watch streams events from a
revision. It speaks etcd's own gRPC API, so it works against raykube's store and a real etcd.

Errors here are storage-level (KeyExists, RevisionMismatch, Compacted, StoreUnavailable); the
registry turns them into API errors with the object's kind and name.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import grpc
from google.protobuf.message import Message

from cluster.apiserver.txn_batch import TxnBatcher, Unimplemented
from cluster.apiserver.txn_stream import TxnStream, serves_txn_stream
from cluster.etcd_keys import prefix_end
from cluster.tls import Tls, open_channel
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.etcd.mvccpb import kv_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc

Endpoints = Callable[[], Awaitable[list[str]]]  # finds the members' client addresses


class StorageError(Exception):
    """Base of what the store can answer besides success."""


class KeyExists(StorageError):
    pass


class ClaimTaken(StorageError):
    """A claim key (an allocated ClusterIP or NodePort) exists already: the value is taken."""

    def __init__(self, key: str):
        super().__init__(f"{key} is taken")
        self.key = key


class RevisionMismatch(StorageError):
    """The key moved on (or is gone) since the caller read it; `current` is what is there now."""

    def __init__(self, current: KeyValue | None):
        super().__init__("revision mismatch")
        self.current = current


class Compacted(StorageError):
    """The requested revision is older than the store's compaction point."""

    def __init__(self, compact_revision: int):
        super().__init__(f"revision compacted (oldest available: {compact_revision})")
        self.compact_revision = compact_revision


class StoreUnavailable(StorageError):
    pass


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True, slots=True)
class Event:
    """One change: `value` is None for a delete; `prev` is the value before (None for a create)."""

    key: str
    revision: int
    value: bytes | None
    prev: bytes | None


def _absent(key: bytes) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(
        key=key, target=rpc_pb2.Compare.CREATE, result=rpc_pb2.Compare.EQUAL, create_revision=0
    )


def _unchanged(key: bytes, revision: int) -> rpc_pb2.Compare:
    return rpc_pb2.Compare(
        key=key, target=rpc_pb2.Compare.MOD, result=rpc_pb2.Compare.EQUAL, mod_revision=revision
    )


def _put(key: bytes, value: bytes, lease: int = 0) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value, lease=lease))


def _delete(key: str) -> rpc_pb2.RequestOp:
    return rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key.encode()))


def _kv(kv: kv_pb2.KeyValue) -> KeyValue:
    return KeyValue(kv.key.decode(), kv.value, kv.mod_revision, kv.create_revision)


# Failures that prove a request took no effect: it never reached a member, or the member refused
# it before proposing (etcd's ErrNoLeader). Anything else (a timeout, "leader changed", a
# connection lost mid-call) leaves a write's outcome unknown.
_NOT_APPLIED = ("failed to connect", "etcdserver: no leader")


def _not_applied(code: grpc.StatusCode, details: str) -> bool:
    return code == grpc.StatusCode.UNAVAILABLE and any(marker in details for marker in _NOT_APPLIED)


def _retryable(method: str, err: grpc.aio.AioRpcError) -> bool:
    """etcd's client rule: reads are retried on any UNAVAILABLE; writes only when provably not applied."""
    if err.code() != grpc.StatusCode.UNAVAILABLE:
        return False
    return method == "Range" or _not_applied(err.code(), err.details() or "")


class _Stubs(NamedTuple):
    kv: rpc_pb2_grpc.KVStub
    watch: rpc_pb2_grpc.WatchStub
    lease: rpc_pb2_grpc.LeaseStub
    batch: store_pb2_grpc.StoreKVStub  # raykube's store only (TxnBatch)


class EtcdStorage:
    """Typed etcd operations over one gRPC channel to one of the store's members.

    `endpoints` are the members' client addresses (or a coroutine that finds them, e.g. through
    Ray). When the member in use fails (UNAVAILABLE: down, no leader; or a deadline exceeded),
    the next call goes to the next member. A failed call is retried there, after a short
    back-off, when a retry cannot apply it twice (`_retryable`, etcd's own client rule); every
    other failure goes to the caller, whose write then has an unknown outcome.
    """

    def __init__(
        self,
        endpoints: str | Sequence[str] | Endpoints,
        *,
        timeout: float = 10.0,
        attempts: int = 6,
        backoff: float = 0.1,
        tls: Tls | None = None,
    ):
        if isinstance(endpoints, str):
            endpoints = [endpoints]
        self._resolve: Endpoints | None = endpoints if callable(endpoints) else None
        self._endpoints: list[str] = [] if callable(endpoints) else list(endpoints)
        self._current = 0
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._tls = tls
        self._channel: grpc.aio.Channel | None = None
        self._stubs_of_channel: _Stubs
        self._stream: TxnStream | None = None  # the batches' stream on the current channel
        self._streaming: bool | None = None  # whether the store has TxnStream (None: not asked yet)
        self._batcher = TxnBatcher(self._kv_call, self._failure, _not_applied)

    @property
    def endpoint(self) -> str:
        return self._endpoints[self._current % len(self._endpoints)] if self._endpoints else ""

    async def _stubs(self) -> _Stubs:
        if self._channel is None:
            if self._resolve is not None and (
                not self._endpoints or self._current % len(self._endpoints) == 0
            ):
                self._endpoints = await self._resolve()  # (again) after trying every known member
            channel = self._channel = open_channel(
                self.endpoint, self._tls, (("grpc.max_receive_message_length", 256 * 1024 * 1024),)
            )
            self._stubs_of_channel = _Stubs(
                rpc_pb2_grpc.KVStub(channel),
                rpc_pb2_grpc.WatchStub(channel),
                rpc_pb2_grpc.LeaseStub(channel),
                store_pb2_grpc.StoreKVStub(channel),
            )  # made once per channel, not on every call
        return self._stubs_of_channel

    def _next_member(self) -> None:
        """Use the next member from the next call on (the old channel closes when collected,
        its TxnStream once it has answered what it was sent)."""
        self._channel = None
        self._current += 1
        if self._stream is not None:
            self._stream.retire()
            self._stream = None

    async def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    async def _kv_call(self, method: str, request: Message) -> Any:
        delay = self._backoff
        for attempt in range(self._attempts):
            stubs = await self._stubs()
            try:
                return await self._invoke(stubs, method, request)
            except grpc.aio.AioRpcError as err:
                if err.code() == grpc.StatusCode.UNIMPLEMENTED:
                    if method == "TxnBatch" and self._streaming:
                        self._streaming, self._stream = None, None  # another store now: ask again
                        continue
                    raise Unimplemented(f"{self.endpoint} does not serve {method}") from None
                failure = self._translate(err)
                if not _retryable(method, err) or attempt == self._attempts - 1:
                    raise failure from None
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _invoke(self, stubs: _Stubs, method: str, request: Message) -> Awaitable[Any]:
        """One try of `method`."""
        if method == "TxnBatch":
            assert isinstance(request, store_pb2.TxnBatchRequest)
            return self._batch(stubs, request)
        stub = stubs.lease if method.startswith("Lease") else stubs.kv
        return getattr(stub, method)(request, timeout=self._timeout)

    async def _batch(self, stubs: _Stubs, request: store_pb2.TxnBatchRequest) -> store_pb2.TxnBatchResponse:
        """A TxnBatch on the channel's TxnStream, or as a call of its own where there is none."""
        if self._streaming is None:
            self._streaming = await serves_txn_stream(stubs.batch, self._timeout)
        if not self._streaming:
            response: store_pb2.TxnBatchResponse = await stubs.batch.TxnBatch(request, timeout=self._timeout)
            return response
        if self._stream is None or self._stream.failure is not None:
            self._stream = TxnStream(stubs.batch)
        return await self._stream.batch(request, self._timeout)

    def _translate(self, err: grpc.aio.AioRpcError) -> StorageError:
        return self._failure(err.code(), err.details() or "")

    def _failure(self, code: grpc.StatusCode, details: str) -> StorageError:
        """What a call that failed with (code, details) means here; a member that could not
        answer is left for the next."""
        if code == grpc.StatusCode.OUT_OF_RANGE and "compacted" in details:
            return Compacted(0)
        failure = StoreUnavailable(f"store {self.endpoint}: {code.name}: {details}")
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            self._next_member()
        return failure

    async def get(self, key: str) -> KeyValue | None:
        response: rpc_pb2.RangeResponse = await self._kv_call("Range", rpc_pb2.RangeRequest(key=key.encode()))
        return _kv(response.kvs[0]) if response.kvs else None

    async def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under `prefix`, in key order, and the store revision of the read."""
        items, revision, _ = await self.list_page(prefix)
        return items, revision

    async def list_page(
        self, prefix: str, *, start: str = "", revision: int = 0, limit: int = 0
    ) -> tuple[list[KeyValue], int, bool]:
        """Up to `limit` keys under `prefix` from `start` on (in key order), as of `revision` (0:
        now): the items, the revision read at, and whether more follow. Compacted for a revision
        older than the store keeps."""
        raw = prefix.encode()
        request = rpc_pb2.RangeRequest(key=(start or prefix).encode(), range_end=prefix_end(raw),
                                       revision=revision, limit=limit)  # fmt: skip
        response: rpc_pb2.RangeResponse = await self._kv_call("Range", request)
        read_at = revision or response.header.revision
        return [_kv(kv) for kv in response.kvs], read_at, response.more

    async def revision(self) -> int:
        """The store's current revision (a linearizable read of nothing)."""
        response: rpc_pb2.RangeResponse = await self._kv_call(
            "Range", rpc_pb2.RangeRequest(key=b"\0", count_only=True)
        )
        return response.header.revision

    async def grant_lease(self, ttl: int) -> int:
        """A new store lease of `ttl` seconds: keys written with it go when it expires."""
        response: rpc_pb2.LeaseGrantResponse = await self._kv_call(
            "LeaseGrant", rpc_pb2.LeaseGrantRequest(TTL=ttl)
        )
        return response.ID

    async def create(self, key: str, value: bytes, lease: int = 0, claims: Sequence[str] = ()) -> int:
        """Store `value` at `key` (with `lease`, if any) and create every claim key (holding `key`),
        all only if all are absent; the new revision. KeyExists for `key`, ClaimTaken for a claim."""
        raw = key.encode()
        compares = [_absent(raw), *(_absent(c.encode()) for c in claims)]
        puts = [_put(raw, value, lease), *(_put(c.encode(), raw) for c in claims)]
        response = await self._txn(compares, puts, [key, *claims])
        return response.header.revision

    async def update(
        self,
        key: str,
        value: bytes,
        expected_revision: int,
        lease: int = 0,
        claims: Sequence[str] = (),
        releases: Sequence[str] = (),
    ) -> int:
        """Replace `key` if its mod revision is still `expected_revision` (else RevisionMismatch),
        creating the `claims` (which must be absent: else ClaimTaken) and deleting the `releases`."""
        raw = key.encode()
        compares = [_unchanged(raw, expected_revision), *(_absent(c.encode()) for c in claims)]
        ops = [_put(raw, value, lease), *(_put(c.encode(), raw) for c in claims), *map(_delete, releases)]
        response = await self._txn(compares, ops, [key, *claims], expected_revision)
        return response.header.revision

    async def delete(self, key: str, expected_revision: int, releases: Sequence[str] = ()) -> int:
        """Delete `key` (and the `releases`) if its mod revision is still `expected_revision`; else
        RevisionMismatch."""
        raw = key.encode()
        ops = [_delete(key), *map(_delete, releases)]
        response = await self._txn([_unchanged(raw, expected_revision)], ops, [key], expected_revision)
        return response.header.revision

    async def _txn(
        self,
        compares: list[rpc_pb2.Compare],
        ops: list[rpc_pb2.RequestOp],
        checked: list[str],
        expected: int = 0,
    ) -> rpc_pb2.TxnResponse:
        """Run a transaction; when a compare fails, say which of the `checked` keys made it fail:
        the first (the object: KeyExists, or RevisionMismatch when `expected`) or a claim (ClaimTaken)."""
        reads = [rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=k.encode())) for k in checked]
        request = rpc_pb2.TxnRequest(compare=compares, success=ops, failure=reads)
        response = await self._batcher.txn(request)
        if response.succeeded:
            return response
        found = [r.response_range.kvs for r in response.responses]
        if expected:
            current = _kv(found[0][0]) if found[0] else None
            if current is None or current.mod_revision != expected:
                raise RevisionMismatch(current)
        elif found[0]:
            raise KeyExists(checked[0])
        taken = next((k for k, kvs in zip(checked[1:], found[1:], strict=True) if kvs), checked[0])
        raise ClaimTaken(taken)

    async def compact(self, revision: int) -> None:
        await self._kv_call("Compact", rpc_pb2.CompactionRequest(revision=revision))

    async def watch(self, prefix: str, start_revision: int) -> AsyncIterator[list[Event]]:
        """Batches of events under `prefix` from `start_revision` on, until cancelled or failed."""
        watch = (await self._stubs()).watch
        raw = prefix.encode()
        create = rpc_pb2.WatchCreateRequest(
            key=raw, range_end=prefix_end(raw), start_revision=start_revision, prev_kv=True
        )

        async def requests() -> AsyncIterator[rpc_pb2.WatchRequest]:
            yield rpc_pb2.WatchRequest(create_request=create)

        call = watch.Watch(requests())
        try:
            async for response in call:
                if response.compact_revision:
                    raise Compacted(response.compact_revision)
                if response.canceled:
                    raise StoreUnavailable(f"store canceled the watch: {response.cancel_reason}")
                if response.events:
                    yield [
                        Event(
                            e.kv.key.decode(),
                            e.kv.mod_revision,
                            None if e.type == kv_pb2.Event.DELETE else e.kv.value,
                            e.prev_kv.value if e.HasField("prev_kv") else None,
                        )
                        for e in response.events
                    ]
        except grpc.aio.AioRpcError as err:
            raise self._translate(err) from None
        finally:
            call.cancel()
        raise StoreUnavailable("store closed the watch stream")


class TTLLeases:
    """Store leases for objects that expire (Events), shared: one lease serves every write of a
    `reuse`-second window, and lives `reuse` seconds longer than asked, so each object lasts at
    least its TTL while the store keeps few leases (kube-apiserver's lease manager)."""

    def __init__(
        self, storage: EtcdStorage, *, reuse: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self._storage = storage
        self._reuse = reuse
        self._clock = clock
        self._current: dict[int, tuple[int, float]] = {}  # ttl -> (lease ID, granted at)

    async def lease_for(self, ttl: int) -> int:
        now = self._clock()
        current = self._current.get(ttl)
        if current is not None and now < current[1] + self._reuse:
            return current[0]
        lease = await self._storage.grant_lease(ttl + math.ceil(self._reuse))
        self._current[ttl] = (lease, now)
        return lease
