"""Pod lifecycle events from relisting the runtime (Kubernetes' generic PLEG).

Every `period` (about 1 s) the relister lists this node's sandboxes and containers and diffs the
new snapshot against the previous one with a pure function; every difference becomes an event
naming the pod it belongs to, handed to `on_event` (which only enqueues). The diff cannot miss a
change that is still visible at the next relist; whatever happens and is undone between two
relists is covered by sync_pod re-reading the runtime and by the periodic resync.

A failed relist is logged and retried next period; the snapshot stays as it was, so the next
successful relist reports everything that changed meanwhile. `healthy()` turns false when no relist
succeeded for `unhealthy_after` seconds (the node then reports NotReady). The first relist reports
every existing object as new, which is how a restarted kubelet adopts what is already running.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agents.kubelet.runtime import Runtime, RuntimeFailure

log = logging.getLogger(__name__)

STARTED, DIED, CREATED, REMOVED, CHANGED = "Started", "Died", "Created", "Removed", "Changed"


@dataclass(frozen=True)
class Record:
    """What the relist remembers of one sandbox or container."""

    pod_uid: str
    state: str


@dataclass(frozen=True)
class PodLifecycleEvent:
    pod_uid: str
    kind: str
    object_id: str


Snapshot = Mapping[str, Record]  # object id -> record


def _kind(old: Record | None, new: Record) -> str:
    if new.state == "running":
        return STARTED
    if new.state in ("exited", "not-ready"):
        return DIED
    return CREATED if old is None else CHANGED


def diff(old: Snapshot, new: Snapshot) -> list[PodLifecycleEvent]:
    """One event per object that appeared, disappeared or changed state, in id order."""
    events = [
        PodLifecycleEvent(after.pod_uid, _kind(old.get(object_id), after), object_id)
        for object_id, after in new.items()
        if old.get(object_id) != after
    ]
    events += [
        PodLifecycleEvent(before.pod_uid, REMOVED, object_id)
        for object_id, before in old.items()
        if object_id not in new
    ]
    return sorted(events, key=lambda e: e.object_id)


class Relister:
    def __init__(
        self,
        runtime: Runtime,
        on_event: Callable[[PodLifecycleEvent], None],
        *,
        period: float = 1.0,
        unhealthy_after: float = 180.0,
    ):
        self._runtime = runtime
        self._on_event = on_event
        self._period = period
        self._unhealthy_after = unhealthy_after
        self.snapshot: dict[str, Record] = {}
        self.last_success = time.monotonic()
        self.last_duration = 0.0

    def pod_uids(self) -> set[str]:
        """The pods that have anything in the runtime, as of the last relist."""
        return {record.pod_uid for record in self.snapshot.values()}

    def healthy(self) -> bool:
        return time.monotonic() - self.last_success < self._unhealthy_after

    async def run(self) -> None:
        while True:
            try:
                await self.relist()
            except RuntimeFailure as err:
                log.warning("relist failed: %s", err)
            await asyncio.sleep(self._period)

    async def relist(self) -> None:
        started = time.monotonic()
        listed = await self._runtime.list_pods()
        fresh: dict[str, Record] = {
            s.id: Record(s.pod_uid, "running" if s.ready else "not-ready") for s in listed.sandboxes
        }
        fresh.update((c.id, Record(c.pod_uid, c.state.value)) for c in listed.containers)
        events = diff(self.snapshot, fresh)
        self.snapshot = fresh
        self.last_success = time.monotonic()
        self.last_duration = self.last_success - started
        for event in events:
            self._on_event(event)
