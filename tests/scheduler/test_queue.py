import asyncio

import pytest

from cluster.scheduler.queue import SchedulingQueue

from .builders import pod


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def queue(clock):
    return SchedulingQueue(clock=clock, initial_backoff=1.0, max_backoff=10.0, max_unschedulable=60.0)


def keys(queue):
    out = []
    while (queued := queue.pop_nowait()) is not None:
        out.append(queued.pod.metadata.name)
    return out


def test_active_is_first_in_first_out_and_counts_attempts(queue):
    for name in ("a", "b", "c"):
        queue.add(pod(name))
    first = queue.pop_nowait()
    assert first.pod.metadata.name == "a" and first.attempts == 1
    assert keys(queue) == ["b", "c"]


def prioritized(name, priority):
    p = pod(name)
    p.spec.priority = priority
    return p


def test_higher_priority_goes_first_and_equals_wait_their_turn(queue, clock):
    queue.add(prioritized("low", 0))
    clock.now += 1
    queue.add(prioritized("high-1", 100))
    clock.now += 1
    queue.add(prioritized("high-2", 100))
    queue.add(prioritized("top", 1000))
    queue.delete(queue.pop_nowait().key)  # "top", taken; deleting it again changes nothing
    queue.add(prioritized("mid", 50))
    assert keys(queue) == ["high-1", "high-2", "mid", "low"]


def test_updates_replace_the_queued_version_in_place(queue):
    p = pod("a")
    queue.add(p)
    queue.add(pod("b"))
    newer = type(p)()
    newer.CopyFrom(p)
    newer.metadata.resource_version = "2"
    queue.update(newer)
    assert queue.sizes() == (2, 0, 0)
    popped = queue.pop_nowait()
    assert popped.pod.metadata.resource_version == "2"


def test_backoff_doubles_per_attempt_up_to_the_cap(queue):
    assert [queue.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_backoff_pod_becomes_active_when_its_backoff_expires(queue, clock):
    queue.add(pod("a"))
    queued = queue.pop_nowait()
    queue.requeue_backoff(queued)  # attempt 1: 1s
    assert queue.where(queued.key) == "backoff" and queue.next_deadline() == clock.now + 1
    clock.now += 0.999
    assert queue.pop_nowait() is None
    clock.now += 0.001
    assert queue.pop_nowait() is queued and queued.attempts == 2
    queue.requeue_backoff(queued)  # attempt 2: 2s
    clock.now += 1.5
    assert queue.pop_nowait() is None
    clock.now += 0.5
    assert queue.pop_nowait() is queued


def test_unschedulable_pods_move_on_events_their_rejectors_care_about(queue, clock):
    for name in ("fit", "affinity", "unknown"):
        queue.add(pod(name))
    fit, affinity, unknown = (queue.pop_nowait() for _ in range(3))
    queue.requeue_unschedulable(fit, frozenset({"NodeResourcesFit"}))
    queue.requeue_unschedulable(affinity, frozenset({"InterPodAffinity"}))
    queue.requeue_unschedulable(unknown, frozenset())
    assert queue.sizes() == (0, 0, 3)
    clock.now += 5  # past their 1s backoff
    assert queue.move_all(frozenset({"InterPodAffinity"})) == 2  # affinity, and unknown (any event)
    assert queue.where(fit.key) == "unschedulable"
    assert keys(queue) == ["affinity", "unknown"]
    assert queue.move_all(frozenset({"NodeResourcesFit", "TaintToleration"})) == 1
    assert keys(queue) == ["fit"]


def test_a_moved_pod_still_serves_its_backoff(queue, clock):
    queue.add(pod("a"))
    queued = queue.pop_nowait()
    queue.requeue_unschedulable(queued, frozenset({"NodeResourcesFit"}))
    clock.now += 0.5
    queue.move_all(frozenset({"NodeResourcesFit"}))
    assert queue.where(queued.key) == "backoff"
    clock.now += 0.5
    assert queue.pop_nowait() is queued


def test_unschedulable_pods_are_flushed_after_max_unschedulable(queue, clock):
    queue.add(pod("a"))
    queue.add(pod("b"))
    a = queue.pop_nowait()
    queue.requeue_unschedulable(a, frozenset({"X"}))
    clock.now += 30
    b = queue.pop_nowait()
    queue.requeue_unschedulable(b, frozenset({"X"}))
    assert queue.next_deadline() == clock.now + 30  # a's 60s are up first
    clock.now += 30
    assert keys(queue) == ["a"]
    assert queue.where(b.key) == "unschedulable"
    clock.now += 30
    assert keys(queue) == ["b"]


def test_changing_an_unschedulable_pods_spec_or_labels_retries_it(queue, clock):
    p = pod("a")
    queue.add(p)
    queue.requeue_unschedulable(queue.pop_nowait(), frozenset({"X"}))
    clock.now += 5
    status_only = type(p)()
    status_only.CopyFrom(p)
    status_only.status.conditions.add(type="PodScheduled", status="False")
    queue.update(status_only)
    assert queue.sizes() == (0, 0, 1)
    relabelled = type(p)()
    relabelled.CopyFrom(status_only)
    relabelled.metadata.labels["tier"] = "web"
    queue.update(relabelled)
    assert queue.sizes() == (1, 0, 0)
    assert queue.pop_nowait().pod.metadata.labels["tier"] == "web"


def test_delete_removes_from_every_place(queue):
    for name in ("a", "b", "c"):
        queue.add(pod(name))
    a, b = queue.pop_nowait(), queue.pop_nowait()
    queue.requeue_backoff(a)
    queue.requeue_unschedulable(b, frozenset())
    for queued in (a, b):
        queue.delete(queued.key)
    queue.delete("no-such-pod")
    assert queue.sizes() == (1, 0, 0)


def test_async_pop_waits_for_an_add():
    async def scenario():
        queue = SchedulingQueue()
        waiter = asyncio.create_task(queue.pop())
        await asyncio.sleep(0)
        assert not waiter.done()
        queue.add(pod("a"))
        return await asyncio.wait_for(waiter, 1)

    assert asyncio.run(scenario()).pod.metadata.name == "a"


def test_async_pop_wakes_for_a_backoff_deadline():
    async def scenario():
        queue = SchedulingQueue(initial_backoff=0.01)
        queue.add(pod("a"))
        queue.requeue_backoff(queue.pop_nowait())
        return await asyncio.wait_for(queue.pop(), 1)

    assert asyncio.run(scenario()).attempts == 2


def test_nominations_are_kept_per_node_until_withdrawn(queue):
    assert not queue.has_nominations  # the scheduler then skips the per-node nomination check
    queue.nominate("default/a", "n1", pod("a"))
    queue.nominate("default/b", "n1", pod("b"))
    assert queue.has_nominations
    assert sorted(p.pod.metadata.name for p in queue.nominated_on("n1")) == ["a", "b"]
    queue.nominate("default/a", "n2", pod("a"))
    assert [p.pod.metadata.name for p in queue.nominated_on("n2")] == ["a"]
    queue.nominate("default/a", None)
    queue.nominate("default/b", None)
    assert not queue.has_nominations and not queue.nominated_on("n1")
