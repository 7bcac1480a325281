"""NodeAffinity: the pod's nodeSelector and node affinity against the node's labels (and name).

Filter: the node must match every nodeSelector pair AND, when required node affinity is given,
at least one of its terms (a term: all its matchExpressions on labels and matchFields on
metadata.name; a term with neither matches nothing). Failing is unresolvable: "node(s) didn't
match Pod's node affinity/selector". Pods with neither are skipped in pre_filter.
Score: the sum of the weights of the preferred terms the node matches, scaled to 0..100.
Selectors are parsed once per attempt in pre_filter/pre_score, not once per node.

The filter says its whole rule over the node table too (an exact vector): each label
requirement is judged once per value its key takes across the nodes (NodeTable.matching), so a
nodeSelector costs a few array operations instead of a selector match on every node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cluster.api import labels
from cluster.scheduler.framework import (
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleState,
    Mask,
    NodeInfo,
    NodeTable,
    PodInfo,
    StateKey,
    Status,
    error,
    unresolvable,
)
from cluster.scheduler.framework.normalize import scale_to_max
from raykube.v1 import pod_pb2

NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"
_FIELD_OPERATORS = frozenset({"In", "NotIn"})


@dataclass(frozen=True, slots=True)
class Term:
    """One node selector term: label requirements AND metadata.name requirements."""

    on_labels: labels.Selector
    on_name: labels.Selector

    @classmethod
    def parse(cls, term: pod_pb2.NodeSelectorTerm) -> Term | None:
        """The term, or None when it has no requirements (and so matches no node)."""
        if not term.match_expressions and not term.match_fields:
            return None
        fields = []
        for f in term.match_fields:
            if f.key != "metadata.name" or f.operator not in _FIELD_OPERATORS:
                raise labels.SelectorError(f"unsupported matchFields requirement {f.key} {f.operator}")
            fields.append(labels.Requirement("metadata.name", f.operator, frozenset(f.values)))
        return cls(labels.from_node_selector_term(term), labels.Selector(tuple(fields)))

    def matches(self, node: NodeInfo) -> bool:
        if not self.on_labels.matches(node.labels):
            return False
        return self.on_name.empty() or self.on_name.matches({"metadata.name": node.name})

    def mask(self, nodes: NodeTable) -> Mask:
        """`matches`, for every row."""
        found = _labels_mask(self.on_labels, nodes)
        if not self.on_name.empty():
            names = (self.on_name.matches({"metadata.name": info.name}) for info in nodes.infos())
            found &= np.fromiter(names, dtype=bool, count=len(nodes))
        return found


def _labels_mask(selector: labels.Selector, nodes: NodeTable) -> Mask:
    found = np.ones(len(nodes), dtype=bool)
    for requirement in selector.requirements:
        found &= nodes.matching(requirement)
    return found


@dataclass(frozen=True, slots=True)
class Required:
    node_selector: labels.Selector
    terms: tuple[Term, ...] | None  # None: no required affinity; () matches nothing

    def matches(self, node: NodeInfo) -> bool:
        if not self.node_selector.matches(node.labels):
            return False
        return self.terms is None or any(t.matches(node) for t in self.terms)

    def mask(self, nodes: NodeTable) -> Mask:
        """`matches`, for every row."""
        found = _labels_mask(self.node_selector, nodes)
        if self.terms is not None:
            in_some_term = np.zeros(len(nodes), dtype=bool)
            for term in self.terms:
                in_some_term |= term.mask(nodes)
            found &= in_some_term
        return found


def required_of(pod: pod_pb2.Pod) -> Required | None:
    """The nodes `pod` may run on by its nodeSelector and required node affinity (None: any);
    raises labels.SelectorError for a term that cannot be parsed."""
    spec = pod.spec
    affinity = spec.affinity.node_affinity if spec.HasField("affinity") else None  # most pods: none
    has_required = affinity is not None and affinity.HasField(
        "required_during_scheduling_ignored_during_execution"
    )
    if not spec.node_selector and not has_required:
        return None
    terms = None
    if affinity is not None and has_required:
        selector = affinity.required_during_scheduling_ignored_during_execution
        parsed = (Term.parse(t) for t in selector.node_selector_terms)
        terms = tuple(t for t in parsed if t is not None)
    return Required(labels.from_map(spec.node_selector), terms)


_REQUIRED = StateKey[Required](f"{NAME}/preFilter")
_PREFERRED = StateKey[list[tuple[Term, int]]](f"{NAME}/preScore")


class NodeAffinity:
    name = NAME
    exact_vector = True

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        try:
            required = required_of(pod.pod)
        except labels.SelectorError as err:
            return error(f"invalid node affinity: {err}")
        if required is None:
            return SKIP
        state.write(_REQUIRED, required)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if state.read(_REQUIRED).matches(node) else unresolvable(REASON)

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask:
        return state.read(_REQUIRED).mask(nodes)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        if not pod.pod.spec.HasField("affinity"):
            return SKIP  # most pods: no affinity at all
        preferred = pod.pod.spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution
        try:
            parsed = [(Term.parse(p.preference), p.weight) for p in preferred if p.weight]
        except labels.SelectorError as err:
            return error(f"invalid preferred node affinity: {err}")
        terms = [(term, weight) for term, weight in parsed if term is not None]
        if not terms:
            return SKIP
        state.write(_PREFERRED, terms)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(weight for term, weight in state.read(_PREFERRED) if term.matches(node))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        scale_to_max(scores)

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED})
