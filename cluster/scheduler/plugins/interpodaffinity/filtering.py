"""Required pod affinity and anti-affinity, both directions, counted per topology domain.

pre_filter walks the cluster once per attempt and counts, per (topologyKey, value) domain:
  - existing_anti: existing pods whose required anti-affinity terms match the incoming pod (the
    symmetric check: a pod may not land where an existing pod refuses it);
  - affinity: existing pods matching ALL the incoming pod's required affinity terms;
  - anti: existing pods matching any of the incoming pod's required anti-affinity terms.
filter then only looks the node's labels up in those counts. Only pods that have required
anti-affinity terms are walked for the first count (NodeInfo indexes them); the others need every
pod, but only for incoming pods that have required terms at all. Each distinct term (terms are
interned) and each distinct pod namespace+labels is matched once per attempt, however many pods
share it.

As in Kubernetes, a pod whose required affinity no pod anywhere satisfies may still go to a node
with all the topology keys if it matches its own terms (the first pod of a self-affine group).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from cluster.scheduler.framework import (
    SKIP,
    SUCCESS,
    AffinityTerm,
    CycleState,
    NodeInfo,
    PodInfo,
    StateKey,
    Status,
    unresolvable,
    unschedulable,
)
from cluster.scheduler.plugins.interpodaffinity.topology import Domains, add

AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"


@dataclass(frozen=True, slots=True)
class FilterState:
    existing_anti: Domains
    affinity: Domains
    anti: Domains


KEY = StateKey[FilterState]("InterPodAffinity/preFilter")


def pre_filter(
    state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo], with_anti_affinity: Sequence[NodeInfo]
) -> Status:
    """`with_anti_affinity`: the nodes of `nodes` with pods that have required anti-affinity."""
    existing_anti: Domains = {}
    matches_pod: dict[int, bool] = {}  # id(interned term) -> whether it selects the incoming pod
    for node in with_anti_affinity:
        for other in node.pods_with_required_anti_affinity.values():
            for term in other.required_anti_affinity:
                hit = matches_pod.get(id(term))
                if hit is None:
                    hit = matches_pod[id(term)] = term.matches(pod)
                if hit:
                    add(existing_anti, node, term.topology_key, 1)
    required, required_anti = pod.required_affinity, pod.required_anti_affinity
    if not (existing_anti or required or required_anti):
        return SKIP
    affinity: Domains = {}
    anti: Domains = {}
    if required or required_anti:
        # pods with equal namespace and labels get equal answers: ask once per distinct match_key
        answers: dict[Hashable, tuple[bool, tuple[AffinityTerm, ...]]] = {}
        for node in nodes:
            for other in node.pods.values():
                answer = answers.get(other.match_key)
                if answer is None:
                    affine = bool(required) and all(t.matches(other) for t in required)
                    repelled = tuple(t for t in required_anti if t.matches(other))
                    answer = answers[other.match_key] = (affine, repelled)
                if answer[0]:
                    for term in required:
                        add(affinity, node, term.topology_key, 1)
                for term in answer[1]:
                    add(anti, node, term.topology_key, 1)
    state.write(KEY, FilterState(existing_anti, affinity, anti))
    return SUCCESS


def filter_node(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    counts = state.read(KEY)
    if not _satisfies_affinity(counts, pod, node):
        return unresolvable(AFFINITY_REASON)
    if _in_counted_domain(counts.anti, pod.required_anti_affinity, node):
        return unschedulable(ANTI_AFFINITY_REASON)
    labels = node.labels
    if any(labels.get(key) in domain for key, domain in counts.existing_anti.items()):
        return unschedulable(EXISTING_ANTI_AFFINITY_REASON)
    return SUCCESS


def _in_counted_domain(domains: Domains, terms: Sequence[AffinityTerm], node: NodeInfo) -> bool:
    labels = node.labels
    return any(labels.get(t.topology_key) in domains.get(t.topology_key, ()) for t in terms)


def _satisfies_affinity(counts: FilterState, pod: PodInfo, node: NodeInfo) -> bool:
    terms = pod.required_affinity
    if not terms:
        return True
    if any(t.topology_key not in node.labels for t in terms):
        return False
    if all(_in_counted_domain(counts.affinity, (t,), node) for t in terms):
        return True
    return not counts.affinity and all(t.matches(pod) for t in terms)
