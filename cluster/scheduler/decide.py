"""One scheduling decision: which node for this pod, or why none (kube-scheduler's schedulePod).

pre_filter -> filter nodes until enough fit -> (none fit: post_filter, and the reasons counted per
node) -> pre_score/score/normalize the feasible nodes -> the highest total wins, ties broken by
the injected random.Random. A single feasible node is taken without scoring. Pure and
synchronous: it reads the NodeInfos and writes only the CycleState.

Enough (kube-scheduler's percentageOfNodesToScore): in a cluster of 100 nodes or fewer, all of
them; in a larger one, the configured percentage of them, or by default an adaptive one,
50% - 1% per 125 nodes but at least 5% (10% of 5,000 nodes: 500), and never fewer than 100.
Filtering starts where the previous decision stopped (`start`, round-robin over the node list),
so every node gets its turn to be considered.

The unschedulable message has Kubernetes' shape: "0/3 nodes are available: 1 Insufficient cpu,
2 Insufficient memory." Each reason of each rejected node is counted once; the "<count> <reason>"
strings are sorted as strings, as kube-scheduler does; a pre_filter rejection replaces the list.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from cluster.scheduler.framework import (
    NOMINATED_PODS,
    NOMINATION,
    SUCCESS,
    Code,
    Column,
    CycleState,
    Diagnosis,
    Framework,
    NodeInfo,
    Nomination,
    PodInfo,
    Status,
    unschedulable,
)

NO_NODES_AVAILABLE = "no nodes available to schedule pods"


MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def nodes_to_find(total: int, percentage: int = 0) -> int:
    """How many feasible nodes are enough to choose from among `total` (percentage 0: adaptive)."""
    if total <= MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return total
    if percentage <= 0:
        percentage = max(50 - total // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(total * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


@dataclass(frozen=True)
class Decision:
    node: str  # "" when the pod fits nowhere or the attempt failed
    status: Status  # SUCCESS; UNSCHEDULABLE with the whole message as its one reason; or ERROR
    rejected_by: frozenset[str] = frozenset()  # plugins that turned the pod away
    feasible: int = 0
    looked: int = 0  # nodes filtered: the next decision starts that far on
    nomination: Nomination | None = None  # a post_filter made room: victims to delete first


def decide(
    framework: Framework,
    state: CycleState,
    pod: PodInfo,
    nodes: Sequence[NodeInfo],
    rng: random.Random,
    *,
    start: int = 0,
    percentage: int = 0,
    nominated: Callable[[str], Collection[PodInfo]] | None = None,
) -> Decision:
    if not nodes:
        return Decision("", unschedulable(NO_NODES_AVAILABLE))
    diagnosis = Diagnosis()
    status = framework.run_pre_filter(state, pod, nodes)
    if status.code is Code.ERROR:
        return Decision("", status)
    if status.rejected:
        diagnosis.pre_filter = status
        return _unschedulable(framework, state, pod, len(nodes), diagnosis)
    enough = nodes_to_find(len(nodes), percentage)
    if nominated is not None:
        state.write(NOMINATED_PODS, nominated)
    feasible, looked, status = framework.filter_nodes(
        state, pod, nodes, diagnosis, start=start % len(nodes), enough=enough
    )
    if status.code is Code.ERROR:
        return Decision("", status)
    if not feasible:
        return _unschedulable(framework, state, pod, len(nodes), diagnosis)
    if len(feasible) == 1:
        return Decision(feasible[0].name, SUCCESS, feasible=1, looked=looked)
    status = framework.run_pre_score(state, pod, feasible)
    if not status.ok:
        return Decision("", status)
    scores, status = framework.score_nodes(state, pod, feasible)
    if not status.ok:
        return Decision("", status)
    chosen = select_host(feasible, scores, rng)
    return Decision(chosen.name, SUCCESS, feasible=len(feasible), looked=looked)


def _unschedulable(
    framework: Framework, state: CycleState, pod: PodInfo, total: int, diagnosis: Diagnosis
) -> Decision:
    status = framework.run_post_filter(state, pod, diagnosis)
    if status.code is Code.ERROR:
        return Decision("", status)
    message = unschedulable(fit_error_message(total, diagnosis))
    return Decision("", message, diagnosis.rejectors(), nomination=state.get(NOMINATION))


def fit_error_message(total: int, diagnosis: Diagnosis) -> str:
    message = f"0/{total} nodes are available:"
    if diagnosis.pre_filter is not None:
        message += f" {diagnosis.pre_filter.message()}."
    else:
        histogram = Counter(r for s in diagnosis.node_statuses.values() for r in s.reasons)
        message += " " + ", ".join(sorted(f"{n} {reason}" for reason, n in histogram.items())) + "."
    if diagnosis.post_filter_message:
        message += f" {diagnosis.post_filter_message}."
    return message


def select_host(nodes: Sequence[NodeInfo], scores: Sequence[int] | Column, rng: random.Random) -> NodeInfo:
    """The highest-scoring node; among equals each is equally likely."""
    totals = np.asarray(scores)
    best = np.flatnonzero(totals == totals.max())
    return nodes[int(best[rng.randrange(len(best))])]
