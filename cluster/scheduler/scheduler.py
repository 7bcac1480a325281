"""The scheduler: places pending pods on nodes, one decision at a time, binding concurrently.

    api = ApiClient(target, token)
    await Scheduler(api, SchedulerConfig()).run()     # until cancelled

`run()` owns every task it starts in one TaskGroup: the node and pod informers, and one task per
bind or status write in flight. Cancelling `run()` stops them all; an unexpected exception in any
of them (a bug) stops the scheduler rather than being swallowed.

The loop: wait until both informers have listed, then pop a pod from the queue and call
`schedule_one`, which decides synchronously against the cache (no await between pop and
decision, so no event can slip in between) and returns the asynchronous follow-up:
  - a node was chosen: the pod is assumed on it in the cache at once (so the next decision
    counts it), and the follow-up binds it with uid + resourceVersion preconditions (binds
    decided while others are in flight share a round trip: binding.py). If binding fails, the
    assumption is forgotten and the newest version of the pod goes to backoff;
  - no node fits: the pod waits in the queue's unschedulable pool, and the follow-up records
    PodScheduled=False, reason Unschedulable, with Kubernetes' "0/N nodes are available: ..."
    message, when that differs from what the pod already says;
  - an error (an invalid pod, a plugin error): backoff, and the condition says SchedulerError.
Logging: one DEBUG line per decision, one INFO line per failure.

Dependencies come in through seams: `SchedulerApi` (what it needs of the API server; the
production ApiClient satisfies it, tests use an in-memory fake), a monotonic `clock` for the
queue, a wall clock for condition timestamps, and a random.Random for tie-breaking.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources
from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.client.informer import Informer
from cluster.client.leaderelection import LeadershipLost
from cluster.errors import ApiError, Conflict, NotFound
from cluster.scheduler.binding import BatchingBinder
from cluster.scheduler.cache import Cache
from cluster.scheduler.decide import decide
from cluster.scheduler.framework import (
    ClusterEvent,
    CycleState,
    Framework,
    FrameworkConfig,
    Handle,
    Nomination,
    PodInfo,
    Registry,
)
from cluster.scheduler.handlers import NodeEvents, PodEvents
from cluster.scheduler.plugins import default_registry
from cluster.scheduler.queue import QueuedPod, SchedulingQueue
from cluster.supervision import run_forever
from raykube.v1 import api_pb2, node_pb2, pod_pb2

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"
FollowUp = Coroutine[Any, Any, None]


class SchedulerApi(Protocol):
    """What the scheduler needs from the API server (a subset of ApiClient's methods)."""

    async def list(
        self,
        resource: resources.Resource,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[Sequence[Message], str]: ...

    def watch(
        self,
        resource: resources.Resource,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[tuple[str, Message]]: ...

    async def update_status(self, obj: pod_pb2.Pod) -> pod_pb2.Pod: ...

    async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> Sequence[str | ApiError]: ...

    async def delete(
        self,
        resource: resources.Resource,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str = "",
        resource_version: str = "",
        propagation_policy: str = "",
    ) -> tuple[Message, bool]: ...


if TYPE_CHECKING:  # the production client fits the seam (mypy checks this assignment)
    _PRODUCTION_API: type[SchedulerApi] = ApiClient


@dataclass(frozen=True)
class SchedulerConfig:
    framework: FrameworkConfig = field(default_factory=FrameworkConfig)
    scheduler_name: str = DEFAULT_SCHEDULER_NAME  # pods whose spec.schedulerName names us ("" too)
    initial_backoff: float = 1.0  # seconds; doubles per failed attempt of a pod...
    max_backoff: float = 10.0  # ...up to this
    max_unschedulable: float = 60.0  # an unschedulable pod is retried at least this often
    percentage_of_nodes_to_score: int = 0  # 0: adaptive (decide.nodes_to_find)


class Scheduler:
    def __init__(
        self,
        api: SchedulerApi,
        config: SchedulerConfig | None = None,
        *,
        registry: Registry | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        events: EventRecorder | None = None,
        leading: Callable[[], bool] = lambda: True,
    ):
        config = config or SchedulerConfig()
        self._api = api
        self._events = events
        self._leading = leading  # asked before each decision (LeaderElector.valid)
        self._config = config
        self._wall_clock = wall_clock
        self._rng = rng or random.Random()
        self._next_start = 0  # where the next decision starts filtering (round-robin)
        self.cache = Cache()
        self.queue = SchedulingQueue(
            clock=clock,
            initial_backoff=config.initial_backoff,
            max_backoff=config.max_backoff,
            max_unschedulable=config.max_unschedulable,
        )
        cache = self.cache
        self.binder = BatchingBinder(api)
        handle = Handle(
            self.binder, cache.nodes, cache.nodes_with_affinity, cache.nodes_with_required_anti_affinity,
            cache.nodes_with_image, cache.topology,
        )  # fmt: skip
        self.framework = Framework(config.framework, registry or default_registry(), handle)
        self.node_events = NodeEvents(self.cache, self._cluster_event)
        self.pod_events = PodEvents(self.cache, self.queue, self._cluster_event, self._responsible)
        # Informer is typed against ApiClient but uses only list/watch, which SchedulerApi has.
        client = cast(ApiClient, api)
        self.nodes: Informer[node_pb2.Node] = Informer(client, resources.NODES, self.node_events)
        self.pods: Informer[pod_pb2.Pod] = Informer(client, resources.PODS, self.pod_events)

    async def run(self) -> None:
        """Schedule until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            run_forever(tasks, "scheduler node informer", self.nodes.run())
            run_forever(tasks, "scheduler pod informer", self.pods.run())
            if self._events is not None:
                run_forever(tasks, "scheduler events", self._events.run())
            await self.nodes.synced.wait()
            await self.pods.synced.wait()
            log.info(
                "scheduler %s started with %d nodes", self._config.scheduler_name, len(self.cache.nodes())
            )
            while True:
                queued = await self.queue.pop()
                if not self._leading():
                    raise LeadershipLost(f"{self._config.scheduler_name} is no longer sure it leads")
                follow_up = self.schedule_one(queued)
                if follow_up is not None:
                    tasks.create_task(follow_up)
                # A full queue never suspends pop(): yield, or the binds, informers and the
                # leader's lease renewals (all on this loop) would starve while it drains.
                await asyncio.sleep(0)

    def schedule_one(self, queued: QueuedPod) -> FollowUp | None:
        """Decide where `queued` goes and update cache and queue; return the bind or status write."""
        pod = PodInfo(queued.pod)
        if pod.errors:
            return self._failed(queued, "SchedulerError", "; ".join(pod.errors))
        state = CycleState()
        percentage = self._config.percentage_of_nodes_to_score
        nodes = self.cache.nodes()
        nominated = self.queue.nominated_on if self.queue.has_nominations else None  # None: no check per node
        decision = decide(self.framework, state, pod, nodes, self._rng, start=self._next_start,
                          percentage=percentage, nominated=nominated)  # fmt: skip
        self._next_start = (self._next_start + decision.looked) % max(len(nodes), 1)
        if decision.status.rejected:
            log.info("pod %s unschedulable: %s", _name(pod), decision.status.message())
            self._event(queued.pod, "Warning", "FailedScheduling", decision.status.message())
            self.queue.requeue_unschedulable(queued, decision.rejected_by)
            if decision.nomination is not None:
                self.queue.nominate(queued.key, decision.nomination.node, queued.pod)
                return self._preempt(queued.pod, decision.nomination, decision.status.message())
            return self._condition_write(queued.pod, "Unschedulable", decision.status.message())
        if not decision.status.ok:
            return self._failed(queued, "SchedulerError", decision.status.message())
        self.cache.assume(pod, decision.node)
        self.queue.nominate(pod.key, None)  # placed: the room it waited for is no longer held
        reserved = self.framework.run_reserve(state, pod, decision.node)
        if not reserved.ok:
            self.cache.forget(pod.key)
            return self._failed(queued, "SchedulerError", reserved.message())
        log.debug("pod %s -> %s (%d feasible nodes)", _name(pod), decision.node, decision.feasible)
        return self._bind(queued, state, pod, decision.node)

    def _failed(self, queued: QueuedPod, reason: str, message: str) -> FollowUp | None:
        log.info("pod %s: scheduling failed (attempt %d): %s", _name(queued), queued.attempts, message)
        self.queue.requeue_backoff(queued)
        return self._condition_write(queued.pod, reason, message)

    async def _bind(self, queued: QueuedPod, state: CycleState, pod: PodInfo, node: str) -> None:
        status = await self.framework.run_bind(state, pod, node)
        if status.ok:
            self._event(pod.pod, "Normal", "Scheduled", f"Successfully assigned {_name(pod)} to {node}")
            return
        log.info("pod %s: binding to %s failed: %s", _name(pod), node, status.message())
        self.framework.run_unreserve(state, pod, node)
        self.cache.forget(pod.key)
        latest = self.pods.get(pod.namespace, pod.pod.metadata.name)
        if (
            latest is None
            or latest.metadata.uid != pod.pod.metadata.uid
            or not self.pod_events.pending(latest)
        ):
            return  # deleted, replaced, or bound meanwhile: nothing to retry
        queued.pod = latest
        self.queue.requeue_backoff(queued)

    async def _preempt(self, pod: pod_pb2.Pod, nomination: Nomination, message: str) -> None:
        """Evict the victims a post_filter chose (each with its own grace period, as a kubelet
        stops it), then record where the pod is nominated; it is retried as they go."""
        for victim in nomination.victims:
            meta = victim.pod.metadata
            try:
                await self._api.delete(resources.PODS, meta.namespace, meta.name, uid=meta.uid)
            except NotFound:
                continue  # gone already: room made all the same
            except ApiError as err:
                log.info("pod %s: could not preempt %s: %s", _name(pod), _name(victim), err)
                continue
            self._event(
                victim.pod, "Normal", "Preempted", f"Preempted by {_name(pod)} on node {nomination.node}"
            )
        log.info("pod %s preempted %d pod(s) on %s", _name(pod), len(nomination.victims), nomination.node)
        write = self._condition_write(pod, "Unschedulable", message, nominated=nomination.node)
        if write is not None:
            await write

    def _condition_write(
        self, pod: pod_pb2.Pod, reason: str, message: str, *, nominated: str = ""
    ) -> FollowUp | None:
        """The write of PodScheduled=False (reason, message), or None if the pod says so already.

        Conditional on the resourceVersion the decision saw: if the pod moved on meanwhile (it was
        bound after a later attempt, say), a stale "not scheduled" must not overwrite its status.
        """
        current = conditions.find(pod.status.conditions, "PodScheduled")
        said = (current.status, current.reason, current.message) if current is not None else None
        if said == ("False", reason, message) and pod.status.nominated_node_name == (
            nominated or pod.status.nominated_node_name
        ):
            return None
        updated = pod_pb2.Pod()
        updated.CopyFrom(pod)
        if nominated:
            updated.status.nominated_node_name = nominated
        now = Timestamp(seconds=int(self._wall_clock()))
        conditions.set_condition(updated.status.conditions, "PodScheduled", "False", now, reason, message)
        return self._write_status(updated)

    async def _write_status(self, pod: pod_pb2.Pod) -> None:
        try:
            await self._api.update_status(pod)
        except Conflict:  # the pod changed; its next attempt sees the newest version and writes again
            log.debug("pod %s changed before its PodScheduled=False was recorded", _name(pod))
        except ApiError as err:  # e.g. unavailable; the pod is requeued either way
            log.info(
                "pod %s: could not record PodScheduled=False: %s: %s", _name(pod), type(err).__name__, err
            )

    def _event(self, pod: pod_pb2.Pod, type: str, reason: str, message: str) -> None:
        if self._events is not None:
            self._events.event(pod, type, reason, message)

    def _cluster_event(self, event: ClusterEvent) -> None:
        moved = self.queue.move_all(self.framework.interested(event))
        if moved:
            log.debug("%s: %d unschedulable pods to retry", event.value, moved)

    def _responsible(self, pod: pod_pb2.Pod) -> bool:
        return (pod.spec.scheduler_name or DEFAULT_SCHEDULER_NAME) == self._config.scheduler_name


def _name(pod: PodInfo | QueuedPod | pod_pb2.Pod) -> str:
    obj = pod if isinstance(pod, pod_pb2.Pod) else pod.pod
    return f"{obj.metadata.namespace}/{obj.metadata.name}"
