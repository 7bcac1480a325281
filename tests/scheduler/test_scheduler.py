"""The scheduler end to end against an in-memory API: informers in, binds and statuses out."""

import asyncio
import contextlib
import random
from collections import Counter

import pytest

from cluster.client.leaderelection import LeadershipLost
from cluster.scheduler.scheduler import Scheduler, SchedulerConfig

from .builders import node, pod
from .fake_api import FakeApi

FAST = SchedulerConfig(initial_backoff=0.01, max_backoff=0.05)


async def until(predicate, timeout=2.0):
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


@contextlib.asynccontextmanager
async def running(api, config=FAST, seed=0):
    scheduler = Scheduler(api, config, rng=random.Random(seed))
    task = asyncio.create_task(scheduler.run())
    try:
        yield scheduler
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):  # and not an ExceptionGroup from a task
            await task


def placement(api, *names):
    return {n: api.pod(n).spec.node_name for n in names}


def condition(api, name):
    return next((c for c in api.pod(name).status.conditions if c.type == "PodScheduled"), None)


def test_pods_spread_across_equal_nodes():
    async def scenario():
        api = FakeApi()
        for n in ("n1", "n2", "n3"):
            api.put(node(n))
        names = [f"p{i}" for i in range(9)]
        for name in names:
            api.put(pod(name, cpu="500m", memory="512Mi"))
        async with running(api):
            await until(lambda: all(placement(api, *names).values()))
        return Counter(placement(api, *names).values())

    assert asyncio.run(scenario()) == {"n1": 3, "n2": 3, "n3": 3}


def test_node_selector_is_respected():
    async def scenario():
        api = FakeApi()
        api.put(node("a1", labels={"zone": "a"}))
        api.put(node("b1", labels={"zone": "b"}))
        api.put(node("b2", labels={"zone": "b"}))
        names = [f"p{i}" for i in range(6)]
        for name in names:
            api.put(pod(name, cpu="100m", node_selector={"zone": "b"}))
        async with running(api):
            await until(lambda: all(placement(api, *names).values()))
        return set(placement(api, *names).values())

    assert asyncio.run(scenario()) == {"b1", "b2"}


def test_unschedulable_pod_gets_kubernetes_message_once():
    async def scenario():
        api = FakeApi()
        api.put(node("n1", cpu="1", memory="8Gi"))
        api.put(node("n2", cpu="4", memory="1Gi"))
        api.put(node("n3", cpu="4", memory="1Gi"))
        api.put(pod("big", cpu="2", memory="2Gi"))
        async with running(api, SchedulerConfig(initial_backoff=0.01, max_unschedulable=0.05)) as scheduler:
            await until(lambda: condition(api, "big") is not None)
            await until(lambda: scheduler.queue.sizes() == (0, 0, 1))
            decide, attempts = scheduler.schedule_one, []

            def counted(queued):
                attempts.append(queued.attempts)
                return decide(queued)

            scheduler.schedule_one = counted
            # the 50ms unschedulable flush retries it; the message stays the same, so no new write
            await until(lambda: len(attempts) >= 3)
        return condition(api, "big"), len(api.status_writes), api.pod("big").spec.node_name

    cond, writes, bound_to = asyncio.run(scenario())
    assert (cond.status, cond.reason) == ("False", "Unschedulable")
    assert cond.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 Insufficient memory."
        " preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )
    assert cond.last_transition_time.seconds > 0
    assert writes == 1 and bound_to == ""


def test_bind_conflict_is_retried_with_the_newest_version():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        original = api.put(pod("p", cpu="1"))

        def someone_else_updates_first(name, node_name):
            api.before_bind = None
            relabelled = type(original)()
            relabelled.CopyFrom(api.pod(name))
            relabelled.metadata.labels["touched"] = "yes"
            api.put(relabelled)  # the scheduler's resourceVersion is now stale

        api.before_bind = someone_else_updates_first
        async with running(api) as scheduler:
            await until(lambda: api.pod("p").spec.node_name == "n1")
            await until(lambda: not scheduler.cache.is_assumed(original.metadata.uid))
            info = scheduler.cache.node("n1")
        return api.binds, original.metadata.resource_version, len(info.pods)

    binds, first_version, pods_on_node = asyncio.run(scenario())
    assert len(binds) == 2
    assert binds[0][3] == first_version and binds[1][3] != first_version
    assert pods_on_node == 1  # forgotten once, counted once after the rebind


def test_pod_scheduled_when_a_node_that_fits_is_added():
    async def scenario():
        api = FakeApi()
        api.put(node("small", cpu="1"))
        api.put(pod("p", cpu="2"))
        async with running(api, SchedulerConfig(initial_backoff=0.01, max_unschedulable=3600)) as scheduler:
            await until(lambda: condition(api, "p") is not None)
            await until(lambda: scheduler.queue.sizes() == (0, 0, 1))
            api.put(node("big", cpu="8"))
            await until(lambda: api.pod("p").spec.node_name == "big")

    asyncio.run(scenario())


def test_assigned_pod_deletion_frees_room():
    async def scenario():
        api = FakeApi()
        api.put(node("n1", cpu="1"))
        first = api.put(pod("first", cpu="1"))
        api.put(pod("second", cpu="1"))
        async with running(api, SchedulerConfig(initial_backoff=0.01, max_unschedulable=3600)):
            await until(lambda: api.pod("first").spec.node_name == "n1")
            await until(lambda: condition(api, "second") is not None)
            assert condition(api, "second").message == (
                "0/1 nodes are available: 1 Insufficient cpu."
                " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
            )
            api.remove(first)
            await until(lambda: api.pod("second").spec.node_name == "n1")

    asyncio.run(scenario())


def test_only_pending_pods_of_this_scheduler_are_scheduled():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        other = pod("other")
        other.spec.scheduler_name = "my-scheduler"
        api.put(other)
        done = pod("done")
        done.status.phase = "Succeeded"
        api.put(done)
        deleting = pod("deleting")
        deleting.metadata.deletion_timestamp.seconds = 1
        api.put(deleting)
        api.put(pod("mine"))
        async with running(api) as scheduler:
            await until(lambda: api.pod("mine").spec.node_name == "n1")
            await asyncio.sleep(0.02)
            assert scheduler.queue.sizes() == (0, 0, 0)
        return placement(api, "other", "done", "deleting")

    assert asyncio.run(scenario()) == {"other": "", "done": "", "deleting": ""}


def test_pods_already_bound_count_against_their_node():
    async def scenario():
        api = FakeApi()
        api.put(node("n1", cpu="2"))
        api.put(node("n2", cpu="2"))
        api.put(pod("running", cpu="2", node_name="n1"))
        finished = pod("finished", cpu="2", node_name="n2")
        finished.status.phase = "Failed"
        api.put(finished)
        api.put(pod("new", cpu="1"))
        async with running(api):
            await until(lambda: api.pod("new").spec.node_name != "")
        return api.pod("new").spec.node_name

    assert asyncio.run(scenario()) == "n2"


def test_bind_failure_for_a_deleted_pod_is_not_retried():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        victim = api.put(pod("victim"))

        def delete_first(name, node_name):
            api.remove(victim)

        api.before_bind = delete_first
        async with running(api) as scheduler:
            await until(lambda: len(api.binds) == 1)
            await asyncio.sleep(0.05)
            return scheduler.queue.sizes(), len(scheduler.cache), len(api.binds)

    assert asyncio.run(scenario()) == ((0, 0, 0), 0, 1)


def test_a_plugin_bug_stops_the_scheduler_loudly():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        api.put(pod("p"))

        def bug(name, node_name):
            raise RuntimeError("bug in the binder")

        api.before_bind = bug
        await asyncio.wait_for(Scheduler(api, FAST).run(), 2)

    with pytest.raises(ExceptionGroup) as caught:
        asyncio.run(scenario())
    assert caught.group_contains(RuntimeError, match="bug in the binder")


def test_binds_run_concurrently_and_later_decisions_see_assumed_pods():
    async def scenario():
        api = FakeApi()
        api.put(node("n1", cpu="1"))
        api.put(node("n2", cpu="1"))
        for name in ("a", "b", "c"):
            api.put(pod(name, cpu="1"))
        api.bind_gate = asyncio.Event()
        async with running(api) as scheduler:
            await until(lambda: len(api.binds) == 2 and condition(api, "c") is not None)
            in_flight = sorted(node_name for _, node_name, _, _ in api.binds)
            api.bind_gate.set()
            await until(lambda: all(placement(api, "a", "b").values()))
            return in_flight, condition(api, "c").message, scheduler.queue.where(api.pod("c").metadata.uid)

    assert asyncio.run(scenario()) == (
        ["n1", "n2"],
        "0/2 nodes are available: 2 Insufficient cpu."
        " preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
        "unschedulable",
    )


def test_a_scheduler_no_longer_sure_it_leads_stops_before_deciding():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        api.put(pod("p"))
        scheduler = Scheduler(api, FAST, leading=lambda: False)
        with pytest.raises(ExceptionGroup) as stopped:
            await asyncio.wait_for(scheduler.run(), 5)
        return stopped.value, api.binds

    stopped, binds = asyncio.run(scenario())
    assert stopped.subgroup(LeadershipLost) is not None and binds == []
