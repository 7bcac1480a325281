"""Preferred pod affinity and anti-affinity, both directions, summed per topology domain.

pre_score walks existing pods once per attempt and adds, to the domain of the existing pod's
node for each term's topology key:
  + weight   for each of the incoming pod's preferred affinity terms the existing pod matches
  - weight   for each of its preferred anti-affinity terms the existing pod matches
  + weight / - weight for the existing pod's own preferred (anti-)affinity terms the incoming pod matches
  + hard_pod_affinity_weight for each of the existing pod's *required* affinity terms it matches
A node scores the sum over the domains it belongs to; scores are then min-max scaled to 0..100.
When the incoming pod has no preferred terms only pods with affinity terms need walking
(NodeInfo indexes them); when nothing contributes, scoring is skipped for this pod.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    AffinityTerm,
    CycleState,
    NodeInfo,
    PodInfo,
    StateKey,
    Status,
)

TopologyScore = dict[str, dict[str, int]]  # topology key -> value -> score
KEY = StateKey[TopologyScore]("InterPodAffinity/preScore")


def pre_score(
    state: CycleState, pod: PodInfo, all_nodes: Callable[[], Sequence[NodeInfo]], hard_weight: int
) -> Status:
    has_preferred = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
    scores: TopologyScore = {}

    def add(node: NodeInfo, term: AffinityTerm, weight: int, candidate: PodInfo) -> None:
        value = node.labels.get(term.topology_key)
        if value is not None and term.matches(candidate):
            domain = scores.setdefault(term.topology_key, {})
            domain[value] = domain.get(value, 0) + weight

    for node in all_nodes():
        others = node.pods if has_preferred else node.pods_with_affinity
        for other in others.values():
            for weighted in pod.preferred_affinity:
                add(node, weighted.term, weighted.weight, other)
            for weighted in pod.preferred_anti_affinity:
                add(node, weighted.term, -weighted.weight, other)
            if not other.has_affinity:
                continue
            if hard_weight:
                for term in other.required_affinity:
                    add(node, term, hard_weight, pod)
            for weighted in other.preferred_affinity:
                add(node, weighted.term, weighted.weight, pod)
            for weighted in other.preferred_anti_affinity:
                add(node, weighted.term, -weighted.weight, pod)
    if not any(any(domain.values()) for domain in scores.values()):
        return SKIP
    state.write(KEY, scores)
    return SUCCESS


def score(state: CycleState, node: NodeInfo) -> int:
    labels = node.labels
    return sum(domain.get(labels[key], 0) for key, domain in state.read(KEY).items() if key in labels)


def normalize(scores: list[int]) -> None:
    """Min-max scale in place: the lowest raw score becomes 0, the highest MAX_NODE_SCORE."""
    lowest, highest = min(scores, default=0), max(scores, default=0)
    for i, raw in enumerate(scores):
        scores[i] = MAX_NODE_SCORE * (raw - lowest) // (highest - lowest) if highest > lowest else 0
