"""Watches: etcd's Watch stream semantics over the state machine's change history.

Design: the applied-change history (`StateMachine.events`) is the only buffer. A watcher is a
key range, filters and `next_rev`, the next revision it has not delivered. When woken, a stream
reads each of its watchers forward from `next_rev`, so replaying the past (start_revision in
history) and delivering live changes are the same path, and nothing queues up per watcher.

Who calls what:
- the node calls `WatchHub.notify()` after every applied batch; that only sets the asyncio.Event
  of each open stream with a watcher on a key the batch changed (a stream with nothing to send is
  not woken to find that out: the API server keeps one stream per resource, and a pod write
  concerns one of them), so a slow watcher can never hold up a writer;
- the Watch servicer feeds each incoming WatchRequest to `WatchStream.handle()` and writes out
  what `WatchStream.responses()` yields; a stream whose client reads slowly just stays behind
  (its `next_rev` lags) until it catches up or compaction overtakes it.

etcd behaviours kept: watch IDs are assigned from 0 per stream unless the client picks one; a
create is answered by a `created` response before any event; a watcher whose next revision has
been compacted gets one response with `compact_revision` set and `canceled`, and is removed;
`prev_kv` is the key's value just before the event when that revision is still readable;
NOPUT/NODELETE filters; a cancel is answered with `canceled`; a progress request is answered with
the current revision and watch_id -1; `progress_notify` watchers get an empty response every
`progress_interval` seconds in which they received nothing (etcd's default is ten minutes).
At most `MAX_REVISIONS_PER_RESPONSE` revisions go into one response.

Concurrency: event-loop only; one `responses()` consumer per stream.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from cluster.store.mvcc.keyrange import KeyRange
from cluster.store.mvcc.keyspace import Change
from cluster.store.mvcc.state_machine import StateMachine, to_kv
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.etcd.mvccpb import kv_pb2

MAX_REVISIONS_PER_RESPONSE = 1000
DUPLICATE_ID = "mvcc: duplicate watch ID provided on the WatchStream"

HeaderFn = Callable[[int], rpc_pb2.ResponseHeader]  # a filled header with exactly this revision
Told = Callable[[set[bytes], int], bool]  # (keys changed, from revision) -> does the stream want them?


class WatchHub:
    """Wakes the open watch streams that what the state machine applied concerns."""

    def __init__(self, machine: StateMachine) -> None:
        self._machine = machine
        self._streams: dict[asyncio.Event, Told] = {}
        self._next = machine.revision + 1  # the first revision not yet told

    def notify(self) -> None:
        """After an apply: wake the streams watching a key changed since the last call; all of
        them if that history is gone (compacted meanwhile, or replaced by a snapshot)."""
        machine, first = self._machine, self._next
        batches = machine.events.since(first, machine.revision - first + 1)
        complete = machine.revision < first or (bool(batches) and batches[0][0] == first)
        self._next = machine.revision + 1
        keys = {change.key for _, changes in batches for change in changes}
        for waker, told in self._streams.items():
            if not complete or told(keys, first):
                waker.set()

    def register(self, waker: asyncio.Event, told: Told) -> None:
        self._streams[waker] = told

    def unregister(self, waker: asyncio.Event) -> None:
        self._streams.pop(waker, None)


@dataclass(slots=True)
class Watcher:
    id: int
    span: KeyRange
    next_rev: int
    prev_kv: bool
    no_put: bool
    no_delete: bool
    progress_notify: bool
    last_sent: float

    def events(self, batches: list[tuple[int, tuple[Change, ...]]], compact_rev: int) -> list[kv_pb2.Event]:
        out = []
        span = self.span
        for _, changes in batches:
            for change in changes:
                if change.key not in span:
                    continue
                rev = change.rev
                if rev.version:
                    if self.no_put:
                        continue
                    event = kv_pb2.Event(type=kv_pb2.Event.PUT, kv=to_kv(change.key, rev))
                else:
                    if self.no_delete:
                        continue
                    event = kv_pb2.Event(
                        type=kv_pb2.Event.DELETE, kv=kv_pb2.KeyValue(key=change.key, mod_revision=rev.mod)
                    )
                prev = change.prev
                if self.prev_kv and prev is not None and prev.version and rev.mod - 1 >= compact_rev:
                    event.prev_kv.CopyFrom(to_kv(change.key, prev))
                out.append(event)
        return out


class WatchStream:
    """The watchers of one Watch RPC, multiplexed onto its single response stream."""

    def __init__(
        self,
        machine: StateMachine,
        hub: WatchHub,
        header: HeaderFn,
        *,
        progress_interval: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._machine = machine
        self._hub = hub
        self._header = header
        self._progress_interval = progress_interval
        self._clock = clock
        self._watchers: dict[int, Watcher] = {}
        self._control: deque[rpc_pb2.WatchResponse] = deque()
        self._next_id = 0
        self._wake = asyncio.Event()
        hub.register(self._wake, self._told)

    def close(self) -> None:
        self._hub.unregister(self._wake)

    def _told(self, keys: set[bytes], first: int) -> bool:
        """The hub tells of the revisions from `first` on, which changed `keys`: whether a watcher
        here wants them (or has older ones still to read). A watcher they do not concern moves
        past them, as reading them would have moved it."""
        wanted = False
        for watcher in self._watchers.values():
            if watcher.next_rev < first or any(key in watcher.span for key in keys):
                wanted = True
            elif watcher.next_rev == first:
                watcher.next_rev = self._machine.revision + 1
        return wanted

    def handle(self, req: rpc_pb2.WatchRequest) -> None:
        kind = req.WhichOneof("request_union")
        if kind == "create_request":
            self._create(req.create_request)
        elif kind == "cancel_request":
            watch_id = req.cancel_request.watch_id
            if self._watchers.pop(watch_id, None) is not None:
                self._control.append(self._response(watch_id, canceled=True))
        elif kind == "progress_request":
            self._control.append(self._response(-1))
        self._wake.set()

    def _create(self, req: rpc_pb2.WatchCreateRequest) -> None:
        watch_id = req.watch_id
        if watch_id == 0:  # etcd's AutoWatchID: the stream picks the next free ID
            while self._next_id in self._watchers:
                self._next_id += 1
            watch_id = self._next_id
            self._next_id += 1
        elif watch_id in self._watchers:
            self._control.append(self._response(-1, created=True, canceled=True, cancel_reason=DUPLICATE_ID))
            return
        filters = set(req.filters)
        self._watchers[watch_id] = Watcher(
            id=watch_id,
            span=KeyRange.of(req.key, req.range_end),
            next_rev=req.start_revision if req.start_revision > 0 else self._machine.revision + 1,
            prev_kv=req.prev_kv,
            no_put=rpc_pb2.WatchCreateRequest.NOPUT in filters,
            no_delete=rpc_pb2.WatchCreateRequest.NODELETE in filters,
            progress_notify=req.progress_notify,
            last_sent=self._clock(),
        )
        self._control.append(self._response(watch_id, created=True))

    def _response(
        self, watch_id: int, revision: int | None = None, **fields: object
    ) -> rpc_pb2.WatchResponse:
        return rpc_pb2.WatchResponse(
            header=self._header(self._machine.revision if revision is None else revision),
            watch_id=watch_id,
            **fields,  # type: ignore[arg-type]
        )

    async def responses(self) -> AsyncIterator[rpc_pb2.WatchResponse]:
        """Everything this stream has to say, forever; wakes on requests, applies and timers."""
        while True:
            self._wake.clear()
            while self._control:
                yield self._control.popleft()
            for watcher in list(self._watchers.values()):
                if self._watchers.get(watcher.id) is watcher:
                    response = self._poll(watcher)
                    if response is not None:
                        yield response
            timeout = self._progress_due()
            while self._control:
                yield self._control.popleft()
            if not self._wake.is_set():
                try:
                    async with asyncio.timeout(timeout):
                        await self._wake.wait()
                except TimeoutError:
                    pass  # a progress notification may be due

    def _poll(self, watcher: Watcher) -> rpc_pb2.WatchResponse | None:
        machine = self._machine
        if watcher.next_rev < machine.compact_revision:
            del self._watchers[watcher.id]
            # etcd's compaction notice carries a header with revision 0
            return self._response(watcher.id, 0, compact_revision=machine.compact_revision, canceled=True)
        if watcher.next_rev > machine.revision:
            return None
        batches = machine.events.since(watcher.next_rev, MAX_REVISIONS_PER_RESPONSE)
        if len(batches) == MAX_REVISIONS_PER_RESPONSE:
            watcher.next_rev = batches[-1][0] + 1
        else:
            watcher.next_rev = machine.revision + 1
        events = watcher.events(batches, machine.compact_revision)
        if not events:
            return None
        watcher.last_sent = self._clock()
        response = self._response(watcher.id)
        response.events.extend(events)
        return response

    def _progress_due(self) -> float | None:
        """Queue progress notifications that are due; returns seconds until the next one."""
        now = self._clock()
        next_due: float | None = None
        for watcher in self._watchers.values():
            if not watcher.progress_notify:
                continue
            due = watcher.last_sent + self._progress_interval
            if due <= now and watcher.next_rev > self._machine.revision:
                self._control.append(self._response(watcher.id))
                watcher.last_sent, due = now, now + self._progress_interval
            next_due = due if next_due is None else min(next_due, due)
        return None if next_due is None else max(next_due - now, 0.0)
