"""NodeResourcesFit: does the pod's cpu/memory/pod-count request fit what the node has left?

Filter: the node's allocatable minus what its pods (including ones assumed a moment ago) already
request must cover the pod's request, and one more pod must fit under allocatable "pods".
A resource the pod does not request is not checked (like Kubernetes). Every shortage is a
reason ("Insufficient cpu", "Insufficient memory", "Too many pods"), so the unschedulable
message counts each one.

Score: the strategy in args["scoring_strategy"], over cpu and memory with args["resource_weights"]:
LeastAllocated (default: prefer emptier nodes, so load spreads) or MostAllocated (bin-packing).
Scoring counts pods without requests at the non-zero defaults (PodInfo).

Both are said over the NodeTable's columns (every node at once); `filter` is asked only about
the nodes the vector did not pass, to name the shortages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SUCCESS,
    ClusterEvent,
    Column,
    CycleState,
    Mask,
    NodeInfo,
    NodeTable,
    PluginArgs,
    PodInfo,
    Status,
    unschedulable,
)

NAME = "NodeResourcesFit"
INSUFFICIENT_CPU = "Insufficient cpu"
INSUFFICIENT_MEMORY = "Insufficient memory"
TOO_MANY_PODS = "Too many pods"


def least_allocated(requested: Column, capacity: Column) -> Column:
    """Per node: the share of `capacity` left after `requested`, 0..MAX_NODE_SCORE (0 when full
    or there is none)."""
    left = np.maximum(capacity - requested, 0)
    return left * MAX_NODE_SCORE // np.maximum(capacity, 1)


def most_allocated(requested: Column, capacity: Column) -> Column:
    """Per node: the share of `capacity` used with `requested` on it (0 when there is none)."""
    used = np.minimum(requested, capacity)
    return np.where(capacity > 0, used * MAX_NODE_SCORE // np.maximum(capacity, 1), 0)


STRATEGIES: dict[str, Callable[[Column, Column], Column]] = {
    "LeastAllocated": least_allocated,
    "MostAllocated": most_allocated,
}


class Fit:
    name = NAME
    exact_vector = True  # filter_vector says the whole rule: False is a rejection

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

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask:
        fits = nodes.pod_count + 1 <= nodes.allocatable_pods
        if pod.milli_cpu:
            fits &= pod.milli_cpu <= nodes.allocatable_milli_cpu - nodes.requested_milli_cpu
        if pod.memory:
            fits &= pod.memory <= nodes.allocatable_memory - nodes.requested_memory
        return fits

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        cpu, memory = pod.milli_cpu, pod.memory
        shortages = (
            (len(node.pods) + 1 > node.allocatable_pods, TOO_MANY_PODS),
            (cpu and cpu > node.allocatable_milli_cpu - node.requested_milli_cpu, INSUFFICIENT_CPU),
            (memory and memory > node.allocatable_memory - node.requested_memory, INSUFFICIENT_MEMORY),
        )
        reasons = [reason for short, reason in shortages if short]
        return unschedulable(*reasons) if reasons else SUCCESS

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Column:
        cpu = self._scorer(nodes.non_zero_milli_cpu + pod.non_zero_milli_cpu, nodes.allocatable_milli_cpu)
        memory = self._scorer(nodes.non_zero_memory + pod.non_zero_memory, nodes.allocatable_memory)
        return (cpu * self._cpu_weight + memory * self._memory_weight) // self._weight_sum

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset(
            {ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED, ClusterEvent.ASSIGNED_POD_DELETED}
        )
