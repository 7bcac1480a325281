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
    PluginArgs,
    PodInfo,
    Status,
)

NAME = "NodeResourcesBalancedAllocation"


class BalancedAllocation:
    name = NAME

    def __init__(self, args: PluginArgs):
        del args  # no settings

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.milli_cpu or pod.memory else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        fractions = [
            min(1.0, (requested + wanted) / capacity)
            for requested, wanted, capacity in (
                (node.requested_milli_cpu, pod.milli_cpu, node.allocatable_milli_cpu),
                (node.requested_memory, pod.memory, node.allocatable_memory),
            )
            if capacity
        ]
        spread = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
        return int((1 - spread) * MAX_NODE_SCORE)
