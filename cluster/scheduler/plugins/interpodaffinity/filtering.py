"""Required pod affinity and anti-affinity, both directions, counted per topology domain.

pre_filter walks the cluster once per attempt and counts, per (topologyKey, value) domain:
  - existing_anti: existing pods whose required anti-affinity terms match the incoming pod (the
    symmetric check: a pod may not land where an existing pod refuses it);
  - affinity: existing pods matching ALL the incoming pod's required affinity terms;
  - anti: existing pods matching any of the incoming pod's required anti-affinity terms.
filter then only looks the node's labels up in those counts. Only pods that have required
anti-affinity terms are walked for the first count (NodeInfo indexes them); the others need every
pod, but only for incoming pods that have required terms at all.

As in Kubernetes, a pod whose required affinity no pod anywhere satisfies may still go to a node
with all the topology keys if it matches its own terms (the first pod of a self-affine group).
"""

from __future__ import annotations

from collections.abc import Sequence
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

AFFINITY_REASON = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"

Counts = dict[tuple[str, str], int]


def count(counts: Counts, node: NodeInfo, topology_key: str) -> None:
    value = node.labels.get(topology_key)
    if value is not None:
        pair = (topology_key, value)
        counts[pair] = counts.get(pair, 0) + 1


@dataclass(frozen=True, slots=True)
class FilterState:
    existing_anti: Counts
    affinity: Counts
    anti: Counts


KEY = StateKey[FilterState]("InterPodAffinity/preFilter")


def pre_filter(state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
    existing_anti: Counts = {}
    for node in nodes:
        for other in node.pods_with_required_anti_affinity.values():
            for term in other.required_anti_affinity:
                if term.matches(pod):
                    count(existing_anti, node, term.topology_key)
    required, required_anti = pod.required_affinity, pod.required_anti_affinity
    if not (existing_anti or required or required_anti):
        return SKIP
    affinity: Counts = {}
    anti: Counts = {}
    if required or required_anti:
        for node in nodes:
            for other in node.pods.values():
                if required and all(t.matches(other) for t in required):
                    for term in required:
                        count(affinity, node, term.topology_key)
                for term in required_anti:
                    if term.matches(other):
                        count(anti, node, term.topology_key)
    state.write(KEY, FilterState(existing_anti, affinity, anti))
    return SUCCESS


def filter_node(state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
    counts = state.read(KEY)
    if not _satisfies_affinity(counts, pod, node):
        return unresolvable(AFFINITY_REASON)
    if _in_counted_domain(counts.anti, pod.required_anti_affinity, node):
        return unschedulable(ANTI_AFFINITY_REASON)
    labels = node.labels
    if any(labels.get(key) == value for key, value in counts.existing_anti):
        return unschedulable(EXISTING_ANTI_AFFINITY_REASON)
    return SUCCESS


def _in_counted_domain(counts: Counts, terms: Sequence[AffinityTerm], node: NodeInfo) -> bool:
    labels = node.labels
    return any(
        t.topology_key in labels and counts.get((t.topology_key, labels[t.topology_key]), 0) > 0
        for t in terms
    )


def _satisfies_affinity(counts: FilterState, pod: PodInfo, node: NodeInfo) -> bool:
    terms = pod.required_affinity
    if not terms:
        return True
    labels = node.labels
    if any(t.topology_key not in labels for t in terms):
        return False
    if all(counts.affinity.get((t.topology_key, labels[t.topology_key]), 0) > 0 for t in terms):
        return True
    return not counts.affinity and all(t.matches(pod) for t in terms)
