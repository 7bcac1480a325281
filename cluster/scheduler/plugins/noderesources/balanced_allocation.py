"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used evenly.

After placing the pod, the node's requested fractions of allocatable cpu and memory (each capped
at 1) should be close: score = (1 - |cpu fraction - memory fraction| / 2) * 100, i.e. one minus
the standard deviation of the two fractions, as kube-scheduler computes it. Like Kubernetes this
uses actual requests (no non-zero defaults), skips a resource the node has none of, and skips
pods that request nothing at all (they cannot unbalance anything).
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
)

NAME = "NodeResourcesBalancedAllocation"


class BalancedAllocation:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.milli_cpu or pod.memory else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        cpu_capacity, memory_capacity = node.allocatable_milli_cpu, node.allocatable_memory
        if not cpu_capacity or not memory_capacity:
            return MAX_NODE_SCORE  # one fraction (or none) has no spread
        cpu = (node.requested_milli_cpu + pod.milli_cpu) / cpu_capacity
        memory = (node.requested_memory + pod.memory) / memory_capacity
        spread = abs((cpu if cpu < 1.0 else 1.0) - (memory if memory < 1.0 else 1.0)) / 2
        return int((1 - spread) * MAX_NODE_SCORE)
