"""The framework runtime: builds the configured plugins and runs them at each extension point.

Plugins come from a registry (name -> factory) and a FrameworkConfig; the runtime sorts them by
the Protocols they implement once, at construction, so a scheduling attempt only loops over
lists. Per attempt, the per-node loops (filter, score) are the hot path: up to every node x the
enabled plugins for every pod (in large clusters the filter loop stops once enough nodes fit).
Plugins whose pre_filter/pre_score said SKIP drop out of those loops.

Status handling follows kube-scheduler: pre_filter rejections are merged (an unresolvable one or
an error stops at once); per node, the first filter that does not return SUCCESS decides; an
ERROR anywhere makes the whole attempt an error; scores out of 0..MAX_NODE_SCORE after
normalizing are an error (a plugin bug, reported rather than silently skewing decisions).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from cluster.scheduler.framework.config import FrameworkConfig
from cluster.scheduler.framework.cycle_state import CycleState
from cluster.scheduler.framework.interfaces import (
    MAX_NODE_SCORE,
    NOMINATED_PODS,
    BindPlugin,
    ClusterEvent,
    EnqueueExtensions,
    ExactVectorFilterPlugin,
    FilterPlugin,
    Handle,
    NormalizeScorePlugin,
    Plugin,
    PostFilterPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    Registry,
    ReservePlugin,
    ScorePlugin,
    VectorFilterPlugin,
    VectorScorePlugin,
)
from cluster.scheduler.framework.node_info import NodeInfo
from cluster.scheduler.framework.node_table import Column, Mask, NodeTable, Rows
from cluster.scheduler.framework.pod_info import PodInfo
from cluster.scheduler.framework.status import SUCCESS, Code, Status, error, merge

ScoreAll = Callable[[CycleState, PodInfo, NodeTable], Column]
Filters = Sequence[tuple[str, Callable[[CycleState, PodInfo, NodeInfo], Status]]]


def _score_all(plugin: Plugin) -> ScoreAll:
    """How `plugin` scores every node of a table: at once, or one node after another."""
    if isinstance(plugin, VectorScorePlugin):
        return plugin.score_vector
    if not isinstance(plugin, ScorePlugin):
        raise ValueError(f"{plugin.name} has a score weight but does not score")
    score = plugin.score
    return lambda state, pod, nodes: np.array([score(state, pod, node) for node in nodes], dtype=np.int64)


@dataclass
class Diagnosis:
    """Why a pod fits nowhere: each rejected node's status, or the pre_filter's verdict on all."""

    node_statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter: Status | None = None
    post_filter_message: str = ""

    def rejectors(self) -> frozenset[str]:
        """The plugins that turned the pod away (the queue asks them which events might help)."""
        statuses = [self.pre_filter] if self.pre_filter else self.node_statuses.values()
        return frozenset(s.plugin for s in statuses if s.rejected)


class Framework:
    def __init__(self, config: FrameworkConfig, registry: Registry, handle: Handle):
        unknown = [n for n in config.plugins if n not in registry]
        if unknown:
            raise ValueError(
                f"unknown scheduler plugins: {', '.join(unknown)} (known: {', '.join(registry)})"
            )
        self.plugins: list[Plugin] = []
        handle = dataclasses.replace(handle, run_filters=self.run_filters)
        for name in config.plugins:
            plugin = registry[name](config.plugin_args.get(name, {}), handle)
            if plugin.name != name:
                raise ValueError(f"registry entry {name!r} made a plugin named {plugin.name!r}")
            self.plugins.append(plugin)
        weights = config.score_weights
        plugins = self.plugins
        self._pre_filter = [p for p in plugins if isinstance(p, PreFilterPlugin)]
        self._filter = [p for p in plugins if isinstance(p, FilterPlugin)]
        self._filter_vector = {
            p.name: p.filter_vector for p in self._filter if isinstance(p, VectorFilterPlugin)
        }
        self._exact = {p.name for p in self._filter if isinstance(p, ExactVectorFilterPlugin)}
        self._post_filter = [p for p in plugins if isinstance(p, PostFilterPlugin)]
        self._pre_score = [p for p in plugins if isinstance(p, PreScorePlugin) and p.name in weights]
        self._score: list[tuple[str, ScoreAll, int, NormalizeScorePlugin | None]] = []
        for plugin in plugins:
            if plugin.name in weights:
                normalizer = plugin if isinstance(plugin, NormalizeScorePlugin) else None
                self._score.append((plugin.name, _score_all(plugin), weights[plugin.name], normalizer))
        self._reserve = [p for p in plugins if isinstance(p, ReservePlugin)]
        self._bind = [p for p in plugins if isinstance(p, BindPlugin)]
        if not self._bind:
            raise ValueError("no bind plugin is enabled")
        rejecting = {p.name: p for p in [*self._pre_filter, *self._filter]}.values()
        self._interested = {
            event: frozenset(
                p.name for p in rejecting if not isinstance(p, EnqueueExtensions) or event in p.events()
            )
            for event in ClusterEvent
        }

    def interested(self, event: ClusterEvent) -> frozenset[str]:
        """The plugins whose rejections `event` may undo."""
        return self._interested[event]

    # -- filtering -------------------------------------------------------------------------

    def run_pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        rejections: list[Status] = []
        for plugin in self._pre_filter:
            status = plugin.pre_filter(state, pod, nodes)
            if status.code is Code.SKIP:
                state.skip_filter.add(plugin.name)
            elif not status.ok:
                status = status.by(plugin.name)
                if status.code is not Code.UNSCHEDULABLE:
                    return status
                rejections.append(status)
        return merge(rejections)

    def filter_nodes(
        self,
        state: CycleState,
        pod: PodInfo,
        nodes: Sequence[NodeInfo],
        diagnosis: Diagnosis,
        *,
        start: int = 0,
        enough: int | None = None,
    ) -> tuple[NodeTable, int, Status]:
        """The nodes every filter accepts, looking from `nodes[start]` on (wrapping around) and
        stopping once `enough` were found; returns them and how many nodes were looked at.
        When no node fits, every node's reason goes into `diagnosis` (else only some do: nobody
        reads them). A node where pods of at least this pod's priority are nominated
        (NOMINATED_PODS) must also fit the pod with them on it.

        Filters that can vouch for whole columns (VectorFilterPlugin) answer first, for every
        node at once; a node is asked one by one only what none of them vouched for. When every
        filter can vouch and nothing is nominated, only the nodes some filter did not vouch for
        are visited at all. A node an exact vector refuses (ExactVectorFilterPlugin) is not
        visited unless no node fits: then it is asked why."""
        table = NodeTable.of(nodes)
        total = len(table)
        enough = total if enough is None else enough
        active = [p for p in self._filter if p.name not in state.skip_filter]
        vouched, refused = np.ones(total, dtype=bool), np.zeros(total, dtype=bool)
        for plugin in active:
            if plugin.name in self._filter_vector:
                fits = self._filter_vector[plugin.name](state, pod, table)
                vouched &= fits
                if plugin.name in self._exact:
                    refused |= ~fits
        every = [(p.name, p.filter) for p in active]
        walk = _Walk(table, diagnosis, partial(_first_rejection, state, pod), every)
        rest = [(p.name, p.filter) for p in active if p.name not in self._filter_vector]
        nominated = state.get(NOMINATED_PODS)
        if rest or nominated is not None:
            crowded = (
                None if nominated is None else partial(self._with_nominated, state, pod, nominated=nominated)
            )
            rows, looked, status = walk.every_node(vouched, refused, rest, crowded, start, enough)
        else:
            rows, looked, status = walk.unvouched_nodes(vouched, refused, start, enough)
        if status.ok and not len(rows):
            walk.explain(np.flatnonzero(refused).tolist())
        return table.subset(rows), looked, status

    def _with_nominated(
        self,
        state: CycleState,
        pod: PodInfo,
        node: NodeInfo,
        nominated: Callable[[str], Collection[PodInfo]] | None,
    ) -> Status:
        """Whether `pod` still fits `node` once the pods nominated there that it may not take
        room from (no lower priority than its own) are counted on it."""
        if nominated is None:
            return SUCCESS
        ahead = [p for p in nominated(node.name) if p.key != pod.key and p.priority >= pod.priority]
        if not ahead:
            return SUCCESS
        crowded = node.clone()
        for other in ahead:
            crowded.add_pod(other)
        return self._run_filters(state, pod, crowded)

    def run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        """Every enabled filter on one node (the first that does not accept it answers), the
        pods nominated there included: for post_filter plugins asking whether the pod would fit
        a node changed in thought."""
        status = self._run_filters(state, pod, node)
        return self._with_nominated(state, pod, node, state.get(NOMINATED_PODS)) if status.ok else status

    def _run_filters(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        filters = [(p.name, p.filter) for p in self._filter if p.name not in state.skip_filter]
        return _first_rejection(state, pod, node, filters)

    def run_post_filter(self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis) -> Status:
        """Give post_filter plugins (e.g. preemption) their chance; the first that succeeds ends it.

        The pod stays unschedulable this attempt either way; what the plugins said is reported.
        """
        messages: list[str] = []
        for plugin in self._post_filter:
            status = plugin.post_filter(state, pod, diagnosis.node_statuses).by(plugin.name)
            if status.ok or status.code is Code.ERROR:
                return status
            messages.extend(status.reasons)
        diagnosis.post_filter_message = ", ".join(messages)
        return Status(Code.UNSCHEDULABLE, tuple(messages))

    # -- scoring ---------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Status:
        for plugin in self._pre_score:
            status = plugin.pre_score(state, pod, nodes)
            if status.code is Code.SKIP:
                state.skip_score.add(plugin.name)
            elif not status.ok:
                return status.by(plugin.name)
        return SUCCESS

    def score_nodes(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[Column, Status]:
        """The weighted sum of every scoring plugin's normalized score, per node (same order)."""
        table = NodeTable.of(nodes)
        totals = np.zeros(len(table), dtype=np.int64)
        for name, score_all, weight, normalizer in self._score:
            if name in state.skip_score:
                continue
            scores = score_all(state, pod, table)
            if normalizer is not None:
                normalized = scores.tolist()
                normalizer.normalize_score(state, pod, normalized)
                scores = np.array(normalized, dtype=np.int64)
            if len(scores) and (scores.min() < 0 or scores.max() > MAX_NODE_SCORE):
                return totals, error(f"{name} scored outside 0..{MAX_NODE_SCORE}: {scores.tolist()}")
            totals += scores * weight
        return totals, SUCCESS

    # -- after the choice ------------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        """Reserve in order; if one fails, the ones before it are unreserved before returning."""
        for i, plugin in enumerate(self._reserve):
            status = plugin.reserve(state, pod, node_name)
            if not status.ok:
                for done in reversed(self._reserve[:i]):
                    done.unreserve(state, pod, node_name)
                return status.by(plugin.name)
        return SUCCESS

    def run_unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None:
        for plugin in reversed(self._reserve):
            plugin.unreserve(state, pod, node_name)

    async def run_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        for plugin in self._bind:
            status = await plugin.bind(state, pod, node_name)
            if status.code is not Code.SKIP:
                return status.by(plugin.name)
        return error(f"no bind plugin bound pod {pod.key}")


def _first_rejection(state: CycleState, pod: PodInfo, node: NodeInfo, filters: Filters) -> Status:
    """The first of `filters` that does not accept `node` answers (named), else SUCCESS."""
    for name, run_filter in filters:
        status = run_filter(state, pod, node)
        if status is not SUCCESS and status.code is not Code.SUCCESS:
            return status.by(name)
    return SUCCESS


@dataclass
class _Walk:
    """filter_nodes' visits to single nodes, in round-robin order from `start`. Each way returns
    the rows of the nodes found feasible (in that order), how many positions were looked at, and
    a status (an ERROR ends the walk, with no rows)."""

    table: NodeTable
    diagnosis: Diagnosis
    ask: Callable[[NodeInfo, Filters], Status]  # _first_rejection for this pod
    every: Filters

    def every_node(
        self,
        vouched: Mask,
        refused: Mask,
        rest: Filters,
        fits_nominated: Callable[[NodeInfo], Status] | None,
        start: int,
        enough: int,
    ) -> tuple[Rows, int, Status]:
        """Visit each node not refused: a vouched one is asked the `rest` of the filters, any
        other all of them; then, if pods are nominated, whether it fits with them."""
        total, looked = len(self.table), 0
        found: list[int] = []
        vouched_rows, refused_rows, infos = vouched.tolist(), refused.tolist(), self.table.infos()
        for looked, row in enumerate(itertools.chain(range(start, total), range(start)), 1):
            if refused_rows[row]:
                continue
            node = infos[row]
            status = self.ask(node, rest if vouched_rows[row] else self.every)
            if status.ok and fits_nominated is not None:
                status = fits_nominated(node)
            if status.code is Code.ERROR:
                return [], looked, status
            if not status.ok:
                self.diagnosis.node_statuses[node.name] = status
                continue
            found.append(row)
            if len(found) >= enough:
                break
        return found, looked, SUCCESS

    def unvouched_nodes(
        self, vouched: Mask, refused: Mask, start: int, enough: int
    ) -> tuple[Rows, int, Status]:
        """Visit only the nodes neither vouched for nor refused; the vouched ones count as
        feasible where they stand."""
        total = len(self.table)
        order = np.concatenate((np.arange(start, total), np.arange(start)))
        sure = vouched[order]  # by position in the walk
        before = np.cumsum(sure)  # at a position not vouched for: how many vouched ones precede it
        found: list[int] = []  # positions
        for position in np.flatnonzero(~sure & ~refused[order]).tolist():
            if before[position] + len(found) >= enough:
                break
            node = self.table[int(order[position])]
            status = self.ask(node, self.every)
            if status.code is Code.ERROR:
                return [], position + 1, status
            if status.ok:
                found.append(position)
            else:
                self.diagnosis.node_statuses[node.name] = status
        positions = np.flatnonzero(sure)[:enough]  # (a vouched node is never refused)
        if found:
            positions = np.union1d(positions, np.array(found, dtype=np.intp))[:enough]
        looked = int(positions[-1]) + 1 if len(positions) >= enough else total
        return order[positions], looked, SUCCESS

    def explain(self, rows: list[int]) -> None:
        """Ask the nodes at `rows` (refused without a visit) why they do not fit."""
        infos = self.table.infos()
        for row in rows:
            self.diagnosis.node_statuses[infos[row].name] = self.ask(infos[row], self.every)
