"""Which watch events reach the queue and the cache, and which ones release unschedulable pods."""

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import ClusterEvent, PodInfo
from cluster.scheduler.handlers import NodeEvents, PodEvents
from cluster.scheduler.queue import SchedulingQueue

from .builders import node, pod


def copy(obj):
    other = type(obj)()
    other.CopyFrom(obj)
    return other


def wiring():
    cache, queue, events = Cache(), SchedulingQueue(), []
    pods = PodEvents(cache, queue, events.append, lambda p: p.spec.scheduler_name == "default-scheduler")
    return cache, queue, events, pods, NodeEvents(cache, events.append)


def test_heartbeats_do_not_count_as_node_changes():
    _, _, events, _, nodes = wiring()
    old = node("n1")
    nodes.on_add(old)
    heartbeat = copy(old)
    heartbeat.status.conditions.add(type="Ready", status="True")
    nodes.on_update(old, heartbeat)
    for change in ("labels", "taints", "unschedulable", "allocatable"):
        new = copy(heartbeat)
        if change == "labels":
            new.metadata.labels["zone"] = "a"
        elif change == "taints":
            new.spec.taints.add(key="k", effect="NoSchedule")
        elif change == "unschedulable":
            new.spec.unschedulable = True
        else:
            new.status.allocatable["cpu"] = "8"
        nodes.on_update(heartbeat, new)
    assert events == [ClusterEvent.NODE_ADDED] + [ClusterEvent.NODE_CHANGED] * 4


def test_a_pod_moves_from_the_queue_to_the_cache_when_bound():
    cache, queue, events, pods, _ = wiring()
    pending = pod("p", cpu="1")
    pods.on_add(pending)
    assert queue.sizes() == (1, 0, 0) and len(cache) == 0
    bound = copy(pending)
    bound.spec.node_name = "n1"
    pods.on_update(pending, bound)
    assert queue.sizes() == (0, 0, 0) and cache.node_of(bound.metadata.uid) == "n1"
    relabelled = copy(bound)
    relabelled.metadata.labels["x"] = "y"
    pods.on_update(bound, relabelled)
    finished = copy(relabelled)
    finished.status.phase = "Succeeded"
    pods.on_update(relabelled, finished)
    assert len(cache) == 0
    assert events == [
        ClusterEvent.POD_ASSIGNED,
        ClusterEvent.ASSIGNED_POD_CHANGED,
        ClusterEvent.ASSIGNED_POD_DELETED,
    ]


def test_assumed_pods_are_left_to_their_bind():
    cache, queue, _, pods, _ = wiring()
    pending = pod("p")
    cache.assume(PodInfo(pending), "n1")
    pods.on_add(pending)
    changed = copy(pending)
    changed.metadata.labels["x"] = "y"
    pods.on_update(pending, changed)
    assert queue.sizes() == (0, 0, 0)


def test_pending_pods_leave_the_queue_when_deleted_or_terminating():
    _, queue, _, pods, _ = wiring()
    a, b = pod("a"), pod("b")
    pods.on_add(a)
    pods.on_add(b)
    pods.on_delete(a)
    terminating = copy(b)
    terminating.metadata.deletion_timestamp.seconds = 5
    pods.on_update(b, terminating)
    assert queue.sizes() == (0, 0, 0)
