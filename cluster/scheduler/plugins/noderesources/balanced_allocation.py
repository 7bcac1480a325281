"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used evenly.

After placing the pod, the node's requested fractions of allocatable cpu and memory (each capped
at 1) should be close: score = (1 - |cpu fraction - memory fraction| / 2) * 100, i.e. one minus
the standard deviation of the two fractions, as kube-scheduler computes it. Like Kubernetes this
uses actual requests (no non-zero defaults), skips a resource the node has none of, and skips
pods that request nothing at all (they cannot unbalance anything). Said over the NodeTable's
columns, for every node at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    Column,
    CycleState,
    NodeInfo,
    NodeTable,
    PodInfo,
    Status,
)

NAME = "NodeResourcesBalancedAllocation"


class BalancedAllocation:
    name = NAME

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.milli_cpu or pod.memory else SKIP

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Column:
        cpu_capacity, memory_capacity = nodes.allocatable_milli_cpu, nodes.allocatable_memory
        both = (cpu_capacity > 0) & (memory_capacity > 0)  # else one fraction (or none): no spread
        cpu = (nodes.requested_milli_cpu + pod.milli_cpu) / np.maximum(cpu_capacity, 1)
        memory = (nodes.requested_memory + pod.memory) / np.maximum(memory_capacity, 1)
        spread = np.abs(np.minimum(cpu, 1.0) - np.minimum(memory, 1.0)) / 2
        return np.where(both, ((1 - spread) * MAX_NODE_SCORE).astype(np.int64), MAX_NODE_SCORE)
