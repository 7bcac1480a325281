"""Preferred pod affinity and anti-affinity, both directions, summed per topology domain.

pre_score walks existing pods once per attempt and adds, to the domain of the existing pod's
node for each term's topology key:
  + weight   for each of the incoming pod's preferred affinity terms the existing pod matches
  - weight   for each of its preferred anti-affinity terms the existing pod matches
  + weight / - weight for the existing pod's own preferred (anti-)affinity terms the incoming pod matches
  + hard_pod_affinity_weight for each of the existing pod's *required* affinity terms it matches
A node scores the sum over the domains it belongs to; scores are then min-max scaled to 0..100.
When the incoming pod has no preferred terms only pods with affinity terms need walking
(NodeInfo indexes them); when nothing contributes, scoring is skipped for this pod. As in
filtering, each distinct term and each distinct pod namespace+labels is matched once.
"""

from __future__ import annotations

from collections.abc import Hashable

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    AffinityTerm,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    StateKey,
    Status,
)
from cluster.scheduler.plugins.interpodaffinity.topology import Domains, add, total

KEY = StateKey[Domains]("InterPodAffinity/preScore")


def pre_score(state: CycleState, pod: PodInfo, handle: Handle, hard_weight: int) -> Status:
    incoming_terms = [(w.term, w.weight) for w in pod.preferred_affinity]
    incoming_terms += [(w.term, -w.weight) for w in pod.preferred_anti_affinity]
    answers: dict[Hashable, list[tuple[AffinityTerm, int]]] = {}  # match_key -> terms it matches
    matches_pod: dict[int, bool] = {}  # id(interned term) -> whether it selects the incoming pod

    def selects_pod(term: AffinityTerm) -> bool:
        hit = matches_pod.get(id(term))
        if hit is None:
            hit = matches_pod[id(term)] = term.matches(pod)
        return hit

    scores: Domains = {}
    for node in handle.nodes() if incoming_terms else handle.nodes_with_affinity():
        if incoming_terms:
            for other in node.pods.values():
                answer = answers.get(other.match_key)
                if answer is None:
                    answer = answers[other.match_key] = [
                        (t, w) for t, w in incoming_terms if t.matches(other)
                    ]
                for term, weight in answer:
                    add(scores, node, term.topology_key, weight)
        for other in node.pods_with_affinity.values():
            for term in other.required_affinity if hard_weight else ():
                if selects_pod(term):
                    add(scores, node, term.topology_key, hard_weight)
            for weighted in other.preferred_affinity:
                if selects_pod(weighted.term):
                    add(scores, node, weighted.term.topology_key, weighted.weight)
            for weighted in other.preferred_anti_affinity:
                if selects_pod(weighted.term):
                    add(scores, node, weighted.term.topology_key, -weighted.weight)
    if not any(any(domain.values()) for domain in scores.values()):
        return SKIP
    state.write(KEY, scores)
    return SUCCESS


def score(state: CycleState, node: NodeInfo) -> int:
    return total(state.read(KEY), node)


def normalize(scores: list[int]) -> None:
    """Min-max scale in place: the lowest raw score becomes 0, the highest MAX_NODE_SCORE."""
    lowest, highest = min(scores, default=0), max(scores, default=0)
    for i, raw in enumerate(scores):
        scores[i] = MAX_NODE_SCORE * (raw - lowest) // (highest - lowest) if highest > lowest else 0
