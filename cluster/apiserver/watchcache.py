"""One store watch per resource, fanned out to every API watcher (kube-apiserver's watch cache).

Without it, each client watch would be its own store watch, and 100 kubelets watching "pods on my
node" would make the store send every pod event 100 times. Here the cache holds the current
objects and a window of recent events; each client watch is a cursor into that window, filtered
in-process by namespace and selectors.

Indexed triggers (as in kube-apiserver): a resource may name one field whose value most watchers
pin (pods: spec.nodeName, what every kubelet watches). Each event records that field's values
before and after the change; the writer hands an event to the inbox of each watcher pinned to one
of them and wakes only those. A pinned watcher reads its inbox, never the shared list: with N
kubelets, a pod change costs a constant amount of work instead of N predicate evaluations, and a
kubelet's wake-up reads its own few events, not every event since its last one (which made the
cost grow with nodes x events).

Invariants:
  - `events` holds every change with revision in (window_start, revision], in revision order;
    `objects` is the state at `revision`.
  - A watcher from resourceVersion R receives exactly the matching events with revision > R. If
    R is older than the window, it gets Gone (410) and must relist, as in Kubernetes.
  - A watcher without a resourceVersion first receives the current objects as ADDED.
  - Selector transitions follow Kubernetes: an object that starts matching arrives as ADDED, one
    that stops matching as DELETED.
  - A pinned watcher's inbox holds, in revision order, every event carrying its value applied
    since it last read; one that falls a window behind (or whose history a relist cut) gets Gone.
Concurrency: one task (`run`) writes and wakes the watchers concerned; each watcher waits on its
own Event and reads the shared list without locks (single event loop). A slow watcher never
blocks the writer: if the window moves past its cursor, it gets Gone.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from cluster.apiserver.etcd import Compacted, EtcdStorage, Event, StorageError
from cluster.errors import Gone, Unavailable

log = logging.getLogger(__name__)
Decode = Callable[[bytes, int], Any]  # (stored bytes, mod revision) -> API object with resourceVersion set
Predicate = Callable[[Any], bool]
IndexValue = Callable[[Any], str]  # the indexed field's value of an object ("" when unset)


@dataclass(frozen=True, slots=True)
class CachedEvent:
    revision: int
    key: str
    obj: Any  # the object after the change (for a delete: as it was, at the delete's revision)
    prev: Any | None  # the object before (None for a create)
    deleted: bool
    triggers: frozenset[str]  # the indexed field's values before and after


@dataclass(eq=False)
class _Watcher:
    trigger: str | None  # the indexed value this watcher is pinned to, or None: every event
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    inbox: list[CachedEvent] = field(default_factory=list)  # a pinned watcher's events, unread
    lost: bool = False  # a pinned watcher's history no longer connects: it must start again


class WatchCache:
    """Current state and recent history of one resource's keys, fed by a single store watch."""

    def __init__(
        self,
        storage: EtcdStorage,
        prefix: str,
        decode: Decode,
        *,
        index: IndexValue | None = None,
        window: int = 10_000,
    ):
        self._storage = storage
        self._prefix = prefix
        self._decode = decode
        self._index = index
        self._window = window
        self.objects: dict[str, Any] = {}
        self.events: list[CachedEvent] = []
        self._revisions: list[int] = []  # parallel to events, for bisect
        self.window_start = 0  # events after this revision are all in `events`
        self.revision = 0
        self._watchers: dict[str | None, set[_Watcher]] = {}  # by trigger (None: not pinned)
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Keep the cache in sync with the store until cancelled; relist after compaction."""
        delay = 0.1
        while True:
            try:
                if not self.ready.is_set():
                    await self._relist()
                async for batch in self._storage.watch(self._prefix, self.revision + 1):
                    self._apply(batch)
                    delay = 0.1
            except Compacted:
                log.warning("watch cache %s fell behind compaction; relisting", self._prefix)
                self.ready.clear()
            except StorageError as err:
                log.warning("watch cache %s: %s; retrying in %.1fs", self._prefix, err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _relist(self) -> None:
        items, revision = await self._storage.list_prefix(self._prefix)
        self.objects = {kv.key: self._decode(kv.value, kv.mod_revision) for kv in items}
        # Watchers' cursors and inboxes point into the old history, which no longer connects: they
        # get Gone (an unpinned one finds its cursor behind the window, a pinned one is lost).
        self.events, self._revisions = [], []
        self.window_start = self.revision = revision
        for trigger, watchers in self._watchers.items():
            for watcher in watchers:
                watcher.lost = watcher.lost or trigger is not None
                watcher.wake.set()
        self.ready.set()

    def _triggers(self, *objects: Any) -> frozenset[str]:
        if self._index is None:
            return frozenset()
        return frozenset(self._index(o) for o in objects if o is not None)

    def _apply(self, batch: list[Event]) -> None:
        for event in batch:
            prev = self.objects.get(event.key)
            if event.value is None:
                self.objects.pop(event.key, None)
                if prev is None:
                    continue
                obj = type(prev)()
                obj.CopyFrom(prev)
                obj.metadata.resource_version = str(event.revision)  # a deleted object carries the delete's
                cached = CachedEvent(event.revision, event.key, obj, prev, True, self._triggers(prev))
            else:
                obj = self._decode(event.value, event.revision)
                self.objects[event.key] = obj
                cached = CachedEvent(event.revision, event.key, obj, prev, False, self._triggers(obj, prev))
            for trigger in cached.triggers:
                for watcher in self._watchers.get(trigger, ()):
                    self._deliver(watcher, cached)
            self.events.append(cached)
            self._revisions.append(event.revision)
            self.revision = max(self.revision, event.revision)
        if len(self.events) > self._window:
            drop = len(self.events) - self._window
            self.window_start = self._revisions[drop - 1]
            del self.events[:drop], self._revisions[:drop]
        for watcher in self._watchers.get(None, ()):  # the unpinned read the shared list
            watcher.wake.set()

    def _deliver(self, watcher: _Watcher, event: CachedEvent) -> None:
        """Into a pinned watcher's inbox, and wake it (the writer finds it by the event's values,
        not by asking each of the thousands of others); one a window behind is dropped (Gone when
        it reads)."""
        if len(watcher.inbox) < self._window:
            watcher.inbox.append(event)
        else:
            watcher.inbox.clear()
            watcher.lost = True
        watcher.wake.set()

    async def wait_ready(self, timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(self.ready.wait(), timeout)
        except TimeoutError:
            raise Unavailable(
                f"watch cache for {self._prefix} is not ready: the store is unreachable"
            ) from None

    def snapshot(self, predicate: Predicate) -> tuple[list[Any], int]:
        """The matching current objects and the revision they are at."""
        return [o for o in self.objects.values() if predicate(o)], self.revision

    async def watch(
        self,
        since: int | None,
        predicate: Predicate,
        *,
        trigger: str | None = None,
        bookmark_every: float | None = None,
    ) -> AsyncIterator[list[tuple[str, Any, int]]]:
        """Lists of (type, object, revision) for changes after revision `since`, each list what was
        ready at once (so a transport can send a burst as one message); None: the current state first.

        `trigger`: the indexed field's value `predicate` requires (the caller derives it from the
        field selector); events without it are skipped unseen. Types are ADDED, MODIFIED, DELETED,
        and BOOKMARK (object None) after `bookmark_every` idle seconds, carrying the revision the
        watcher is up to date with.
        """
        await self.wait_ready()
        if since is None:
            objects, cursor = self.snapshot(predicate)
            if objects:
                yield [("ADDED", obj, cursor) for obj in objects]
        else:
            cursor = since
        watcher = _Watcher(trigger if self._index is not None else None)
        pinned = watcher.trigger is not None
        if pinned:
            if cursor < self.window_start:
                raise Gone(f"too old resource version: {cursor} ({self.window_start})")
            # What it missed before it was registered, from the shared list (once); from here
            # on, the writer hands it its events. No await between the two: none falls between.
            start = bisect.bisect_right(self._revisions, cursor)
            watcher.inbox = [e for e in self.events[start:] if watcher.trigger in e.triggers]
        self._watchers.setdefault(watcher.trigger, set()).add(watcher)
        bookmark_due = False
        try:
            while True:
                if watcher.lost or (cursor < self.window_start and not pinned):
                    raise Gone(f"too old resource version: {cursor} ({self.window_start})")
                if pinned:
                    pending, watcher.inbox = watcher.inbox, []
                else:
                    start = bisect.bisect_right(self._revisions, cursor)
                    pending = self.events[start:]  # a copy: the writer may trim the list meanwhile
                if pending:
                    cursor = pending[-1].revision
                    ready = []
                    for event in pending:
                        kind = _filtered(event, predicate)
                        if kind is not None:
                            ready.append((kind, event.obj, event.revision))
                    if ready:
                        yield ready
                elif bookmark_due:
                    bookmark_due = False
                    if pinned:
                        cursor = max(cursor, self.revision)  # nothing since concerns it
                    yield [("BOOKMARK", None, cursor)]
                else:
                    watcher.wake.clear()
                    try:
                        await asyncio.wait_for(watcher.wake.wait(), bookmark_every)
                    except TimeoutError:
                        bookmark_due = True  # after catching up with what it was not woken for
        finally:
            registered = self._watchers[watcher.trigger]
            registered.discard(watcher)
            if not registered:
                del self._watchers[watcher.trigger]


def _filtered(event: CachedEvent, predicate: Predicate) -> str | None:
    """The event type a watcher with `predicate` sees, or None: selector transitions included."""
    now = predicate(event.obj)
    before = event.prev is not None and predicate(event.prev)
    if event.deleted:
        return "DELETED" if before else None
    if now and before:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if before else None
