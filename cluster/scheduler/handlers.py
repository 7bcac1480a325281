"""Informer handlers: turn node and pod watch events into cache updates, queue entries, and the
cluster events that release unschedulable pods.

Pods are split as kube-scheduler splits them:
  - pods with a nodeName (and not finished) feed the cache; their arrival, label change or
    departure is a cluster event (an assigned pod's deletion frees room, for instance);
  - pods without one, that this scheduler is responsible for and that are not being deleted,
    are pending: they go into the queue, updates replace the queued version, and they leave the
    queue when bound elsewhere, deleted or finished. A pod the scheduler has assumed (its bind is
    in flight) is left alone: the bind's outcome decides what happens to it.
Node additions, and node updates that change what scheduling looks at (labels, taints,
unschedulable, allocatable), are cluster events too; heartbeats are not.
Handlers run on the informer tasks and only hand work on; nothing here awaits.
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import ClusterEvent, pod_key
from cluster.scheduler.queue import SchedulingQueue
from raykube.v1 import node_pb2, pod_pb2

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
OnEvent = Callable[[ClusterEvent], None]


def node_changed_for_scheduling(old: node_pb2.Node, new: node_pb2.Node) -> bool:
    return (
        old.metadata.labels != new.metadata.labels
        or old.spec.taints != new.spec.taints
        or old.spec.unschedulable != new.spec.unschedulable
        or old.status.allocatable != new.status.allocatable
    )


class NodeEvents:
    def __init__(self, cache: Cache, on_event: OnEvent):
        self._cache = cache
        self._on_event = on_event

    def on_add(self, node: node_pb2.Node) -> None:
        self._cache.set_node(node)
        self._on_event(ClusterEvent.NODE_ADDED)

    def on_update(self, old: node_pb2.Node, new: node_pb2.Node) -> None:
        self._cache.set_node(new)
        if node_changed_for_scheduling(old, new):
            self._on_event(ClusterEvent.NODE_CHANGED)

    def on_delete(self, node: node_pb2.Node) -> None:
        self._cache.remove_node(node.metadata.name)


class PodEvents:
    def __init__(
        self,
        cache: Cache,
        queue: SchedulingQueue,
        on_event: OnEvent,
        responsible: Callable[[pod_pb2.Pod], bool],
    ):
        self._cache = cache
        self._queue = queue
        self._on_event = on_event
        self._responsible = responsible

    def pending(self, pod: pod_pb2.Pod) -> bool:
        """Whether `pod` is this scheduler's to place (now)."""
        return (
            not pod.spec.node_name
            and not pod.metadata.HasField("deletion_timestamp")
            and pod.status.phase not in TERMINAL_PHASES
            and self._responsible(pod)
        )

    def on_add(self, pod: pod_pb2.Pod) -> None:
        if pod.spec.node_name:
            self._assigned(pod, None)
        elif self.pending(pod) and not self._cache.is_assumed(pod_key(pod)):
            self._queue.add(pod)

    def on_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        key = pod_key(new)
        if new.spec.node_name:
            self._queue.delete(key)
            self._assigned(new, old if old.spec.node_name else None)
        elif not self.pending(new):
            self._queue.delete(key)
        elif not self._cache.is_assumed(key):
            self._queue.update(new)

    def on_delete(self, pod: pod_pb2.Pod) -> None:
        key = pod_key(pod)
        self._queue.delete(key)
        if self._cache.node_of(key) is not None:
            self._cache.remove_pod(key)
            self._on_event(ClusterEvent.ASSIGNED_POD_DELETED)

    def _assigned(self, pod: pod_pb2.Pod, old: pod_pb2.Pod | None) -> None:
        key = pod_key(pod)
        if pod.status.phase in TERMINAL_PHASES:  # finished pods hold no resources
            if self._cache.node_of(key) is not None:
                self._cache.remove_pod(key)
                self._on_event(ClusterEvent.ASSIGNED_POD_DELETED)
            return
        self._cache.set_pod(pod)
        if old is None:
            self._on_event(ClusterEvent.POD_ASSIGNED)
        elif old.metadata.labels != pod.metadata.labels:
            self._on_event(ClusterEvent.ASSIGNED_POD_CHANGED)
