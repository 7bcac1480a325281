"""InterPodAffinity: place pods relative to other pods, per topology domain (node, zone, ...).

The plugin is the seam; the rules live in filtering.py (required terms, and the symmetric check
of existing pods' required anti-affinity) and scoring.py (preferred terms, both directions).
args["hard_pod_affinity_weight"] (default 1, as in Kubernetes) is how much an existing pod's
*required* affinity to the incoming pod counts when scoring.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.scheduler.framework import CycleState, Handle, NodeInfo, PluginArgs, PodInfo, Status
from cluster.scheduler.plugins.interpodaffinity import filtering, scoring

NAME = "InterPodAffinity"


class InterPodAffinity:
    """Cares about every cluster event (so no `events()`): any pod or node change can matter."""

    name = NAME

    def __init__(self, args: PluginArgs, handle: Handle):
        self._hard_weight = int(args.get("hard_pod_affinity_weight", 1))
        if not 0 <= self._hard_weight <= 100:
            raise ValueError(f"{NAME}: hard_pod_affinity_weight must be in 0..100, not {self._hard_weight}")
        self._handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return filtering.pre_filter(state, pod, nodes, self._handle.nodes_with_required_anti_affinity())

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return filtering.filter_node(state, pod, node)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return scoring.pre_score(state, pod, self._handle, self._hard_weight)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return scoring.score(state, node)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        scoring.normalize(scores)
