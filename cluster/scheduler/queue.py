"""The scheduling queue: which pending pod to try next, and when to try a failed one again.

Three places a pending pod can wait (a pod is in at most one; while it is being scheduled or
bound it is in none):
  active         ready now: the highest spec.priority first, then the longest waiting
                 (kube-scheduler's PrioritySort);
  backoff        failed recently; becomes active when its backoff expires. The backoff doubles
                 with each attempt: initial_backoff * 2**(attempts-1), capped at max_backoff;
  unschedulable  no node fit. It stays until a cluster event that may help one of the plugins
                 that rejected it (node added or changed, assigned pod deleted, ...), a change to
                 the pod itself, or until it has waited max_unschedulable (the safety net).
                 Leaving, it goes to backoff if its backoff has not expired yet, else to active.

The queue also remembers nominations (kube-scheduler's nominator): a pending pod that preempted
others waits for them to go with a nominated node (status.nominatedNodeName), and the room made
there is its, against pods of no higher priority, until it is bound or gone.

Time comes from an injected clock (monotonic seconds), so tests step time by hand; only the async
`pop()` sleeps, until the earliest deadline or until something is added. Everything runs on one
event loop; no method but `pop()` awaits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from cluster.scheduler.framework import PodInfo, pod_key
from raykube.v1 import pod_pb2

Clock = Callable[[], float]


@dataclass(eq=False, slots=True)
class QueuedPod:
    pod: pod_pb2.Pod  # the newest version the informer delivered
    key: str
    attempts: int = 0  # scheduling attempts so far (counted when popped)
    since: float = 0.0  # when it entered the place it waits in now
    backoff_until: float = 0.0
    rejected_by: frozenset[str] = field(default_factory=frozenset)  # plugins that found no node
    sequence: int = 0  # of its latest entry into the active queue (older heap entries are stale)


def changed_for_scheduling(old: pod_pb2.Pod, new: pod_pb2.Pod) -> bool:
    """Whether an update could change where the pod fits (not just its status or version)."""
    return old.spec != new.spec or old.metadata.labels != new.metadata.labels


class SchedulingQueue:
    def __init__(
        self,
        *,
        clock: Clock = time.monotonic,
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable: float = 60.0,
    ):
        self._clock = clock
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._max_unschedulable = max_unschedulable
        self._active: dict[str, QueuedPod] = {}
        # (-priority, since, sequence, key); entries of pods no longer (or since re-) activated are skipped
        self._active_heap: list[tuple[int, float, int, str]] = []
        self._backoff: dict[str, tuple[int, QueuedPod]] = {}
        self._backoff_heap: list[tuple[float, int, str]] = []  # stale entries are skipped
        self._unschedulable: OrderedDict[str, QueuedPod] = OrderedDict()  # oldest first
        self._sequence = itertools.count()
        self._wakeup = asyncio.Event()
        self._nominated: dict[str, tuple[str, PodInfo]] = {}  # pod key -> (node, the pod)
        self._nominated_on: dict[str, dict[str, PodInfo]] = {}  # node -> pod key -> the pod

    # -- what the informer says ------------------------------------------------------------

    def add(self, pod: pod_pb2.Pod) -> None:
        """A pending pod appeared (or changed: same as `update`)."""
        key = pod_key(pod)
        self._note_nomination(key, pod)
        if self._find(key) is not None:
            self.update(pod)
            return
        self._activate(QueuedPod(pod, key))

    def update(self, pod: pod_pb2.Pod) -> None:
        """Keep the newest version; an unschedulable pod whose spec or labels changed is retried."""
        key = pod_key(pod)
        self._note_nomination(key, pod)
        queued = self._find(key)
        if queued is None:
            self.add(pod)
            return
        old, queued.pod = queued.pod, pod
        if key in self._unschedulable and changed_for_scheduling(old, pod):
            self._release(self._unschedulable.pop(key))

    def delete(self, key: str) -> None:
        self.nominate(key, None)
        self._active.pop(key, None)
        self._backoff.pop(key, None)
        self._unschedulable.pop(key, None)

    def move_all(self, interested: frozenset[str]) -> int:
        """A cluster event happened that may help pods rejected by the `interested` plugins;
        release those (and any whose rejecting plugins are unknown). Returns how many moved."""
        moving = [
            key
            for key, queued in self._unschedulable.items()
            if not queued.rejected_by or queued.rejected_by & interested
        ]
        for key in moving:
            self._release(self._unschedulable.pop(key))
        return len(moving)

    # -- nominations -----------------------------------------------------------------------

    def nominate(self, key: str, node: str | None, pod: pod_pb2.Pod | None = None) -> None:
        """Reserve room on `node` for the pod `key` (None: it holds none any more)."""
        previous = self._nominated.pop(key, None)
        if previous is not None:
            on_node = self._nominated_on[previous[0]]
            del on_node[key]
            if not on_node:
                del self._nominated_on[previous[0]]
        if node is not None and pod is not None:
            info = PodInfo(pod)
            self._nominated[key] = (node, info)
            self._nominated_on.setdefault(node, {})[key] = info

    @property
    def has_nominations(self) -> bool:
        return bool(self._nominated)

    def nominated_on(self, node: str) -> Collection[PodInfo]:
        """The pods nominated to `node`."""
        return self._nominated_on.get(node, {}).values()

    def _note_nomination(self, key: str, pod: pod_pb2.Pod) -> None:
        node = pod.status.nominated_node_name
        if node and self._nominated.get(key, ("",))[0] != node:
            self.nominate(key, node, pod)

    # -- what the scheduler says -----------------------------------------------------------

    def pop_nowait(self) -> QueuedPod | None:
        """The next pod to try, if one is ready; counts the attempt."""
        self.flush()
        heap = self._active_heap
        while heap:
            _, _, sequence, key = heapq.heappop(heap)
            queued = self._active.get(key)
            if queued is not None and queued.sequence == sequence:
                del self._active[key]
                queued.attempts += 1
                return queued
        return None

    async def pop(self) -> QueuedPod:
        """Wait for the next pod to try."""
        while (queued := self.pop_nowait()) is None:
            self._wakeup.clear()
            deadline = self.next_deadline()
            try:
                async with asyncio.timeout(None if deadline is None else max(0.0, deadline - self._clock())):
                    await self._wakeup.wait()
            except TimeoutError:
                pass
        return queued

    def requeue_unschedulable(self, queued: QueuedPod, rejected_by: frozenset[str]) -> None:
        """No node fit: wait for an event that may help (the attempt also earns a backoff)."""
        queued.rejected_by = rejected_by
        queued.backoff_until = self._clock() + self.backoff(queued.attempts)
        queued.since = self._clock()
        self._unschedulable[queued.key] = queued

    def requeue_backoff(self, queued: QueuedPod) -> None:
        """The attempt failed for another reason (binding, an error): retry after the backoff."""
        queued.backoff_until = self._clock() + self.backoff(queued.attempts)
        self._to_backoff(queued)

    def backoff(self, attempts: int) -> float:
        return min(self._initial_backoff * 2 ** max(attempts - 1, 0), self._max_backoff)

    # -- time ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Move pods whose backoff expired to active, and long-unschedulable pods out."""
        now = self._clock()
        heap = self._backoff_heap
        while heap and heap[0][0] <= now:
            _, sequence, key = heapq.heappop(heap)
            entry = self._backoff.get(key)
            if entry is not None and entry[0] == sequence:
                del self._backoff[key]
                self._activate(entry[1])
        while self._unschedulable:
            key, queued = next(iter(self._unschedulable.items()))
            if now - queued.since < self._max_unschedulable:
                break
            del self._unschedulable[key]
            self._release(queued)

    def next_deadline(self) -> float | None:
        """When `flush` will next have something to move (None: only an event can help)."""
        deadlines = []
        while self._backoff_heap:
            until, sequence, key = self._backoff_heap[0]
            entry = self._backoff.get(key)
            if entry is not None and entry[0] == sequence:
                deadlines.append(until)
                break
            heapq.heappop(self._backoff_heap)
        if self._unschedulable:
            deadlines.append(next(iter(self._unschedulable.values())).since + self._max_unschedulable)
        return min(deadlines, default=None)

    # -- introspection ---------------------------------------------------------------------

    def sizes(self) -> tuple[int, int, int]:
        """(active, backoff, unschedulable)."""
        return len(self._active), len(self._backoff), len(self._unschedulable)

    def where(self, key: str) -> str | None:
        for name, place in (("active", self._active), ("backoff", self._backoff)):
            if key in place:
                return name
        return "unschedulable" if key in self._unschedulable else None

    # -- moving between places -------------------------------------------------------------

    def _find(self, key: str) -> QueuedPod | None:
        if key in self._active:
            return self._active[key]
        if key in self._backoff:
            return self._backoff[key][1]
        return self._unschedulable.get(key)

    def _release(self, queued: QueuedPod) -> None:
        """Out of unschedulable: to backoff while it lasts, else to active."""
        if queued.backoff_until > self._clock():
            self._to_backoff(queued)
        else:
            self._activate(queued)

    def _to_backoff(self, queued: QueuedPod) -> None:
        sequence = next(self._sequence)
        self._backoff[queued.key] = (sequence, queued)
        heapq.heappush(self._backoff_heap, (queued.backoff_until, sequence, queued.key))
        self._wakeup.set()  # the sleeping pop() must wake for a deadline that may be earlier

    def _activate(self, queued: QueuedPod) -> None:
        queued.since = self._clock()
        queued.sequence = next(self._sequence)
        self._active[queued.key] = queued
        priority = queued.pod.spec.priority
        heapq.heappush(self._active_heap, (-priority, queued.since, queued.sequence, queued.key))
        self._wakeup.set()
