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

from cluster.scheduler.framework.config import FrameworkConfig
from cluster.scheduler.framework.cycle_state import CycleState
from cluster.scheduler.framework.interfaces import (
    MAX_NODE_SCORE,
    NOMINATED_PODS,
    BindPlugin,
    ClusterEvent,
    EnqueueExtensions,
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
)
from cluster.scheduler.framework.node_info import NodeInfo
from cluster.scheduler.framework.pod_info import PodInfo
from cluster.scheduler.framework.status import SUCCESS, Code, Status, error, merge


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
        self._post_filter = [p for p in plugins if isinstance(p, PostFilterPlugin)]
        self._pre_score = [p for p in plugins if isinstance(p, PreScorePlugin) and p.name in weights]
        self._score: list[tuple[ScorePlugin, int, NormalizeScorePlugin | None]] = []
        for plugin in plugins:
            if plugin.name in weights:
                if not isinstance(plugin, ScorePlugin):
                    raise ValueError(f"{plugin.name} has a score weight but does not score")
                normalizer = plugin if isinstance(plugin, NormalizeScorePlugin) else None
                self._score.append((plugin, weights[plugin.name], normalizer))
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
    ) -> tuple[list[NodeInfo], int, Status]:
        """The nodes every filter accepts, looking from `nodes[start]` on (wrapping around) and
        stopping once `enough` were found; returns them and how many nodes were looked at.
        Rejected nodes' statuses go into `diagnosis`. A node where pods of at least this pod's
        priority are nominated (NOMINATED_PODS) must also fit the pod with them on it."""
        filters = [(p.name, p.filter) for p in self._filter if p.name not in state.skip_filter]
        nominated = state.get(NOMINATED_PODS)  # read once, not per node
        feasible: list[NodeInfo] = []
        rejected = diagnosis.node_statuses
        total = len(nodes)
        enough = total if enough is None else enough
        order = itertools.chain(range(start, total), range(start)) if start else range(total)
        looked = 0
        for looked, index in enumerate(order, 1):
            node = nodes[index]
            for name, run_filter in filters:
                status = run_filter(state, pod, node)
                if status is not SUCCESS and status.code is not Code.SUCCESS:
                    status = status.by(name)
                    if status.code is Code.ERROR:
                        return [], looked, status
                    rejected[node.name] = status
                    break
            else:
                if nominated is not None:  # the check costs a call per node: only when there are any
                    status = self._with_nominated(state, pod, node, nominated)
                    if status.code is Code.ERROR:
                        return [], looked, status
                    if not status.ok:
                        rejected[node.name] = status
                        continue
                feasible.append(node)
                if len(feasible) >= enough:
                    break
        return feasible, looked, SUCCESS

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
        for plugin in self._filter:
            if plugin.name not in state.skip_filter:
                status = plugin.filter(state, pod, node)
                if not status.ok:
                    return status.by(plugin.name)
        return SUCCESS

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

    def run_pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        for plugin in self._pre_score:
            status = plugin.pre_score(state, pod, nodes)
            if status.code is Code.SKIP:
                state.skip_score.add(plugin.name)
            elif not status.ok:
                return status.by(plugin.name)
        return SUCCESS

    def score_nodes(
        self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]
    ) -> tuple[list[int], Status]:
        """The weighted sum of every scoring plugin's normalized score, per node (same order)."""
        totals = [0] * len(nodes)
        for plugin, weight, normalizer in self._score:
            if plugin.name in state.skip_score:
                continue
            score = plugin.score
            scores = [score(state, pod, node) for node in nodes]
            if normalizer is not None:
                normalizer.normalize_score(state, pod, scores)
            if min(scores) < 0 or max(scores) > MAX_NODE_SCORE:
                return totals, error(f"{plugin.name} scored outside 0..{MAX_NODE_SCORE}: {scores}")
            totals = [total + s * weight for total, s in zip(totals, scores, strict=True)]
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
