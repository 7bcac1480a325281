"""DefaultPreemption: which pods a higher-priority pod evicts, on which node, and the scheduler
carrying it out (victims deleted, the pod nominated, then bound there)."""

import asyncio
import random

from cluster.scheduler.cache import Cache
from cluster.scheduler.decide import decide
from cluster.scheduler.framework import CycleState, Framework, FrameworkConfig, Handle, PodInfo
from cluster.scheduler.plugins import default_registry
from raykube.v1 import pod_pb2

from .builders import node, pod
from .fake_api import FakeApi
from .test_scheduler import condition, running, until


def prioritized(name: str, priority: int, cpu: str, **kw) -> pod_pb2.Pod:
    p = pod(name, cpu=cpu, **kw)
    p.spec.priority = priority
    p.metadata.creation_timestamp.seconds = 1000 + int(name[-1]) if name[-1].isdigit() else 1000
    return p


def decision_for(incoming: pod_pb2.Pod, *nodes_with_pods):
    cache = Cache()
    for obj, pods in nodes_with_pods:
        cache.set_node(obj)
        for p in pods:
            p.spec.node_name = obj.metadata.name
            cache.set_pod(p)
    fw = Framework(FrameworkConfig(), default_registry(), Handle(None, cache.nodes))  # type: ignore[arg-type]
    return decide(fw, CycleState(), PodInfo(incoming), cache.nodes(), random.Random(0))


def names(victims) -> list[str]:
    return sorted(v.pod.metadata.name for v in victims)


def test_the_fewest_least_important_pods_are_evicted_on_the_cheapest_node():
    # each node: 4 cpu, four 900m pods. The incoming 3-cpu pod needs three of them gone.
    n1 = [prioritized(f"a{i}", p, "900m") for i, p in enumerate((5, 5, 5, 5))]
    n2 = [prioritized(f"b{i}", p, "900m") for i, p in enumerate((1, 1, 9, 1))]
    decision = decision_for(prioritized("big", 100, "3"), (node("n1"), n1), (node("n2"), n2))
    assert decision.status.rejected and decision.nomination is not None
    # n2's victims' highest priority (1) is below n1's (5); its priority-9 pod is reprieved
    assert decision.nomination.node == "n2" and names(decision.nomination.victims) == ["b0", "b1", "b3"]


def test_equal_or_higher_priority_pods_are_never_victims_and_unresolvable_nodes_do_not_help():
    peers = [prioritized(f"a{i}", 100, "900m") for i in range(4)]
    tainted = node("t1", taints=[("dedicated", "gpu", "NoSchedule")])
    decision = decision_for(prioritized("big", 100, "3"), (node("n1"), peers), (tainted, []))
    assert decision.nomination is None
    assert decision.status.message().endswith(
        " preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod,"
        " 1 Preemption is not helpful for scheduling."
    )


def test_a_pod_that_never_preempts_says_so():
    low = [prioritized(f"a{i}", 0, "900m") for i in range(4)]
    incoming = prioritized("big", 100, "3")
    incoming.spec.preemption_policy = "Never"
    decision = decision_for(incoming, (node("n1"), low))
    assert decision.nomination is None
    assert decision.status.message().endswith(" preemption: not eligible due to preemptionPolicy=Never.")


def test_the_scheduler_evicts_the_victims_nominates_the_node_and_binds_there():
    async def scenario():
        api = FakeApi()
        api.put(node("n1"))
        for i in range(4):
            api.put(prioritized(f"low{i}", 0, "900m", node_name="n1"))
        api.put(prioritized("big", 100, "3"))
        async with running(api):
            await until(lambda: api.pod("big").spec.node_name == "n1")
        nominated = [p.status.nominated_node_name for p in api.status_writes if p.metadata.name == "big"]
        return sorted(name for _, name in api.deletes), nominated, condition(api, "big")

    deleted, nominated, scheduled = asyncio.run(scenario())
    assert len(deleted) == 3 and set(deleted) < {"low0", "low1", "low2", "low3"}
    assert nominated == ["n1"] and scheduled.status == "True"


def test_two_preemptors_on_two_full_nodes_end_one_per_node_with_six_evictions():
    """End to end through the scheduler loop (the fake API's timing does not let the second pod
    race for the first one's room; the reservation itself is pinned at the decision level below)."""

    async def scenario():
        api = FakeApi()
        for n, priority in (("n1", 0), ("n2", 5)):
            api.put(node(n))
            for i in range(4):
                api.put(prioritized(f"{n}-low{i}", priority, "900m", node_name=n))
        api.put(prioritized("big-a", 100, "3"))
        api.put(prioritized("big-b", 100, "3"))
        async with running(api):
            await until(
                lambda: api.pod("big-a").spec.node_name and api.pod("big-b").spec.node_name, timeout=10
            )
        return {n: api.pod(n).spec.node_name for n in ("big-a", "big-b")}, len(api.deletes)

    placed, evicted = asyncio.run(scenario())
    assert placed == {"big-a": "n1", "big-b": "n2"} and evicted == 6


def test_a_pod_of_no_higher_priority_neither_takes_nor_preempts_for_a_nominated_pods_room():
    """n1 has room (its victims are gone) that big-a is nominated to; big-b, of equal priority,
    must leave it and make room on n2 instead (whose pods are dearer to evict)."""
    cache = Cache()
    cache.set_node(node("n1"))
    cache.set_pod(prioritized("n1-low0", 0, "900m", node_name="n1"))
    cache.set_node(node("n2"))
    for i in range(4):
        cache.set_pod(prioritized(f"n2-low{i}", 5, "900m", node_name="n2"))
    fw = Framework(FrameworkConfig(), default_registry(), Handle(None, cache.nodes))  # type: ignore[arg-type]
    big_a = PodInfo(prioritized("big-a", 100, "3"))

    def nominated(name):
        return [big_a] if name == "n1" else []

    incoming = PodInfo(prioritized("big-b", 100, "3"))
    decision = decide(fw, CycleState(), incoming, cache.nodes(), random.Random(0), nominated=nominated)
    assert decision.node == "" and decision.nomination is not None and decision.nomination.node == "n2"
    without = decide(fw, CycleState(), incoming, cache.nodes(), random.Random(0))
    assert without.node == "n1"  # what it would have done without the nomination


def test_the_queue_remembers_nominations_until_the_pod_is_placed_or_gone():
    from cluster.scheduler.queue import SchedulingQueue

    queue = SchedulingQueue()
    waiting = prioritized("big", 100, "3")
    waiting.status.nominated_node_name = "n1"  # as the informer shows it after the status write
    queue.add(waiting)
    assert [p.pod.metadata.name for p in queue.nominated_on("n1")] == ["big"]
    key = PodInfo(waiting).key
    queue.nominate(key, "n2", waiting)  # nominated elsewhere by a later preemption
    assert not queue.nominated_on("n1") and len(queue.nominated_on("n2")) == 1
    queue.delete(key)  # bound or deleted
    assert not queue.nominated_on("n2")
