"""PodTopologySpread: keep matching pods within maxSkew of each other across topology domains.

Filter (whenUnsatisfiable: DoNotSchedule): pre_filter counts, per constraint, the matching pods
in every domain of the eligible nodes (constraints.py) and the smallest count (0 when there are
fewer domains than minDomains). A node fits when, for every constraint, the count of its domain
plus one (if the pod matches its own selector) minus that minimum is at most maxSkew; a node
without a constraint's topology key never fits. Said for every node at once over the NodeTable's
domain index of the key; `filter` names the reason for the nodes that fail.

Score (ScheduleAnyway): pre_score counts the same way over every node, for the domains of the
nodes being scored; a node's raw score is, per constraint, its domain's count times
log(domains + 2) plus maxSkew - 1 (kube-scheduler's weighting: a spread over many domains
matters more). Fewer matching pods is better: normalize maps the lowest raw score to 100 and
the highest towards 0; nodes lacking a topology key score 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cluster.api import labels
from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleState,
    Handle,
    Mask,
    NodeInfo,
    NodeTable,
    PodInfo,
    StateKey,
    Status,
    error,
    unresolvable,
    unschedulable,
)
from cluster.scheduler.plugins.podtopologyspread.constraints import (
    DO_NOT_SCHEDULE,
    SCHEDULE_ANYWAY,
    DomainCounts,
    Spread,
    count_domains,
    count_per_domain,
    parse,
)

NAME = "PodTopologySpread"
MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
SKEWED = "node(s) didn't match pod topology spread constraints"
IGNORED = -1  # raw score of a node that lacks a topology key (normalized to 0)


@dataclass(frozen=True, slots=True)
class _Filtering:
    spread: Spread
    counts: list[DomainCounts]
    minimums: list[int]
    self_match: list[int]


@dataclass(frozen=True, slots=True)
class _Scoring:
    spread: Spread
    counts: list[dict[str, int]]
    weights: list[float]


_FILTER = StateKey[_Filtering](f"{NAME}/preFilter")
_SCORE = StateKey[_Scoring](f"{NAME}/preScore")


def _parsed(pod: PodInfo, action: str) -> Spread | Status:
    """The pod's constraints of `action`, or SKIP (none), or the error of one that does not parse."""
    try:
        spread = parse(pod, action)
    except labels.SelectorError as err:
        return error(f"invalid topology spread constraint: {err}")
    return SKIP if spread is None else spread


class PodTopologySpread:
    name = NAME
    exact_vector = True  # filter_vector says the whole rule: False is a rejection

    def __init__(self, handle: Handle):
        self._handle = handle

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        spread = _parsed(pod, DO_NOT_SCHEDULE)
        if isinstance(spread, Status):
            return spread
        counts = count_per_domain(spread, pod, NodeTable.of(nodes), self._handle.topology())
        minimums = [
            domains.minimum(c.min_domains) for c, domains in zip(spread.constraints, counts, strict=True)
        ]
        self_match = [int(c.selector.matches(pod.labels)) for c in spread.constraints]
        state.write(_FILTER, _Filtering(spread, counts, minimums, self_match))
        return SUCCESS

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask:
        s = state.read(_FILTER)
        fits = np.ones(len(nodes), dtype=bool)
        for c, domains, minimum, own in zip(
            s.spread.constraints, s.counts, s.minimums, s.self_match, strict=True
        ):
            ids = nodes.domains(c.topology_key)[0]
            fits &= (ids >= 0) & (domains.by_row(nodes, c.topology_key) + own - minimum <= c.max_skew)
        return fits

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s = state.read(_FILTER)
        if not s.spread.has_keys(node):
            return unresolvable(MISSING_LABEL)
        for c, domains, minimum, own in zip(
            s.spread.constraints, s.counts, s.minimums, s.self_match, strict=True
        ):
            if domains.of(node.labels[c.topology_key]) + own - minimum > c.max_skew:
                return unschedulable(SKEWED)
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        spread = _parsed(pod, SCHEDULE_ANYWAY)
        if isinstance(spread, Status):
            return spread
        scored = [n for n in nodes if spread.has_keys(n)]
        if not scored:
            return SKIP
        domains = [{n.labels[c.topology_key] for n in scored} for c in spread.constraints]
        counts = count_domains(spread, pod, self._handle.nodes(), self._handle.topology())
        for wanted, counted in zip(domains, counts, strict=True):  # only the scored nodes' domains
            for domain in set(counted) - wanted:
                del counted[domain]
        weights = [math.log(len(d) + 2) for d in domains]
        state.write(_SCORE, _Scoring(spread, counts, weights))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s = state.read(_SCORE)
        if not s.spread.has_keys(node):
            return IGNORED
        raw = 0.0
        for c, counted, weight in zip(s.spread.constraints, s.counts, s.weights, strict=True):
            raw += counted.get(node.labels[c.topology_key], 0) * weight + c.max_skew - 1
        return round(raw)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        counted = [s for s in scores if s != IGNORED]
        lowest, highest = min(counted, default=0), max(counted, default=0)
        for i, raw in enumerate(scores):
            if raw == IGNORED:
                scores[i] = 0
            elif highest == 0:
                scores[i] = MAX_NODE_SCORE
            else:
                scores[i] = MAX_NODE_SCORE * (highest + lowest - raw) // highest

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({
            ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED, ClusterEvent.POD_ASSIGNED,
            ClusterEvent.ASSIGNED_POD_CHANGED, ClusterEvent.ASSIGNED_POD_DELETED,
        })  # fmt: skip
