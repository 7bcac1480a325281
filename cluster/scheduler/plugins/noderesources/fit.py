"""NodeResourcesFit: does the pod's cpu/memory/pod-count request fit what the node has left?

Filter: the node's allocatable minus what its pods (including ones assumed a moment ago) already
request must cover the pod's request, and one more pod must fit under allocatable "pods".
A resource the pod does not request is not checked (like Kubernetes). Every shortage is a
reason ("Insufficient cpu", "Insufficient memory", "Too many pods"), so the unschedulable
message counts each one.

Score: the strategy in args["scoring_strategy"], over cpu and memory with args["resource_weights"]:
LeastAllocated (default: prefer emptier nodes, so load spreads) or MostAllocated (bin-packing).
Scoring counts pods without requests at the non-zero defaults (PodInfo).
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PluginArgs,
    PodInfo,
    Status,
    unschedulable,
)

NAME = "NodeResourcesFit"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
TOO_MANY_PODS = "Too many pods"


def least_allocated(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_allocated(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    return min(requested, capacity) * MAX_NODE_SCORE // capacity


STRATEGIES: dict[str, Callable[[int, int], int]] = {
    "LeastAllocated": least_allocated,
    "MostAllocated": most_allocated,
}


class Fit:
    name = NAME

    def __init__(self, args: PluginArgs):
        strategy = args.get("scoring_strategy", "LeastAllocated")
        if strategy not in STRATEGIES:
            raise ValueError(
                f"{NAME}: unknown scoring_strategy {strategy!r} (one of {', '.join(STRATEGIES)})"
            )
        self._scorer = STRATEGIES[strategy]
        weights = args.get("resource_weights", {"cpu": 1, "memory": 1})
        self._cpu_weight, self._memory_weight = weights.get("cpu", 0), weights.get("memory", 0)
        if self._cpu_weight < 0 or self._memory_weight < 0 or not self._cpu_weight + self._memory_weight:
            raise ValueError(f"{NAME}: resource_weights must be non-negative and not all zero: {weights}")
        self._weight_sum = self._cpu_weight + self._memory_weight

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        cpu, memory = pod.milli_cpu, pod.memory
        too_many = len(node.pods) + 1 > node.allocatable_pods
        short_cpu = cpu and cpu > node.allocatable_milli_cpu - node.requested_milli_cpu
        short_memory = memory and memory > node.allocatable_memory - node.requested_memory
        if not (too_many or short_cpu or short_memory):
            return SUCCESS  # the common answer, without building the list of reasons
        shortages = (
            (too_many, TOO_MANY_PODS),
            (short_cpu, INSUFFICIENT_CPU),
            (short_memory, INSUFFICIENT_MEMORY),
        )
        return unschedulable(*(reason for short, reason in shortages if short))

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scorer = self._scorer
        cpu = scorer(node.non_zero_milli_cpu + pod.non_zero_milli_cpu, node.allocatable_milli_cpu)
        memory = scorer(node.non_zero_memory + pod.non_zero_memory, node.allocatable_memory)
        return (cpu * self._cpu_weight + memory * self._memory_weight) // self._weight_sum

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset(
            {ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED, ClusterEvent.ASSIGNED_POD_DELETED}
        )
