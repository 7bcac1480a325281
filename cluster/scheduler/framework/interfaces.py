"""The extension points: one small Protocol each; a plugin implements only the ones it needs.

One scheduling attempt runs, in order (see cluster/scheduler/decide.py):

    pre_filter(state, pod, nodes)   once: precompute into CycleState, or reject the pod outright,
                                    or SKIP (this plugin's filter has nothing to check for this pod)
    filter(state, pod, node)        per node: SUCCESS, or why this node does not fit
      filter_vector(state, pod, t)  optional, before: per row of the NodeTable, True where filter
                                    would surely say SUCCESS (filter is then not asked there)
    post_filter(state, pod, diag)   only when no node fits (e.g. preemption); its message is reported
    pre_score(state, pod, nodes)    once, over the feasible nodes (or SKIP this plugin's score)
    score(state, pod, node)         per feasible node: an int in 0..MAX_NODE_SCORE after normalizing
      or score_vector(state, pod, t)   the scores of every row of the NodeTable at once
    normalize_score(state, pod, s)  rescale the plugin's raw scores in place (same order as nodes)
    reserve / unreserve             after the choice / when the attempt is undone (bind failed)
    bind(state, pod, node_name)     async, off the decision path; the first binder not saying SKIP binds

Everything but bind is synchronous and must not block: it runs on the event loop while the
scheduler decides. Plugins read NodeInfo/PodInfo and never mutate them. Plugins tell the queue
which cluster events might make a pod they rejected schedulable (`EnqueueExtensions`); a plugin
that does not say is assumed to care about every event.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cluster.scheduler.framework.cycle_state import CycleState, StateKey
from cluster.scheduler.framework.node_info import NodeInfo
from cluster.scheduler.framework.node_table import Column, Mask, NodeTable
from cluster.scheduler.framework.pod_info import PodInfo
from cluster.scheduler.framework.status import Status
from cluster.scheduler.framework.topology import TopologyCounts, scan

MAX_NODE_SCORE = 100


class ClusterEvent(enum.Enum):
    """What happened in the cluster that may let an unschedulable pod fit now."""

    NODE_ADDED = "NodeAdd"
    NODE_CHANGED = "NodeUpdate"  # only changes that matter: labels, taints, unschedulable, allocatable
    POD_ASSIGNED = "AssignedPodAdd"
    ASSIGNED_POD_CHANGED = "AssignedPodUpdate"  # its labels changed
    ASSIGNED_POD_DELETED = "AssignedPodDelete"


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status: ...


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class VectorFilterPlugin(FilterPlugin, Protocol):
    """A filter that can also vouch for many nodes at once, from the table's columns.

    True must mean `filter` would return SUCCESS for that row's node; False means "ask filter"
    (it says why not, or accepts after a closer look, e.g. at the taints a node has)."""

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask: ...


@runtime_checkable
class ExactVectorFilterPlugin(VectorFilterPlugin, Protocol):
    """A vector filter whose False is a rejection as well (it says the whole rule, not a
    shortcut): a node it refuses is not visited, and `filter` names the reason only when no
    node fits, the one time the reasons are read."""

    exact_vector: bool  # True; its presence is what marks the plugin


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]) -> Status: ...


@dataclass(frozen=True)
class Nomination:
    """What a post_filter that makes room (preemption) decided: the pod goes to `node` once the
    `victims` are gone. It writes this under NOMINATION; the scheduler deletes the victims."""

    node: str
    victims: tuple[PodInfo, ...]


NOMINATION = StateKey[Nomination]("PostFilter/nomination")
# node -> the pods nominated to it (waiting for room a preemption made); the scheduler writes it
NOMINATED_PODS = StateKey[Callable[[str], Collection[PodInfo]]]("nominatedPods")


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Status: ...


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class VectorScorePlugin(Plugin, Protocol):
    """A score said for every row of the table at once (a plugin has this or `score`)."""

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Column: ...


@runtime_checkable
class NormalizeScorePlugin(Plugin, Protocol):
    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None: ...


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...
    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class EnqueueExtensions(Plugin, Protocol):
    def events(self) -> frozenset[ClusterEvent]: ...


class Binder(Protocol):
    """What binding needs from the API (ApiClient.bind); a Conflict means the pod moved on. What
    it returns (the pod, or its new resourceVersion) is not read: raising is the answer."""

    async def bind(
        self, namespace: str, name: str, node_name: str, *, uid: str = "", resource_version: str = ""
    ) -> object: ...


@dataclass(frozen=True)
class Handle:
    """What the scheduler lends its plugins at construction.

    `nodes()` is every known node (with its pods) as of now, for plugins whose answer depends on
    nodes beyond the ones being filtered or scored (inter-pod affinity counts whole zones).
    `nodes_with_affinity()` and `nodes_with_required_anti_affinity()` are the few of them with
    pods that have (anti-)affinity terms (NodeInfo.pods_with_affinity and ...required_anti_...):
    the scheduler's cache keeps them as pods come and go (`indexed_...`), so that inter-pod
    affinity walks those instead of 5,000 nodes per decision; without an index they are picked
    out of `nodes()`. Likewise, per image, the number of nodes that hold it.
    """

    binder: Binder
    nodes: Callable[[], Sequence[NodeInfo]]
    indexed_with_affinity: Callable[[], Sequence[NodeInfo]] | None = None
    indexed_with_required_anti_affinity: Callable[[], Sequence[NodeInfo]] | None = None
    indexed_image_nodes: Callable[[str], int] | None = None
    indexed_topology: TopologyCounts | None = None
    # Every enabled filter on one node (set by the Framework: preemption asks "would it fit if...")
    run_filters: Callable[[CycleState, PodInfo, NodeInfo], Status] | None = None

    def nodes_with_affinity(self) -> Sequence[NodeInfo]:
        if self.indexed_with_affinity is not None:
            return self.indexed_with_affinity()
        return [node for node in self.nodes() if node.pods_with_affinity]

    def nodes_with_required_anti_affinity(self) -> Sequence[NodeInfo]:
        if self.indexed_with_required_anti_affinity is not None:
            return self.indexed_with_required_anti_affinity()
        return [node for node in self.nodes() if node.pods_with_required_anti_affinity]

    def topology(self) -> TopologyCounts:
        """Pods per topology domain by label set (topology.py): kept current by the cache, or
        counted from `nodes()` now."""
        return self.indexed_topology if self.indexed_topology is not None else scan(self.nodes())

    def nodes_with_image(self, image: str) -> int:
        """How many nodes hold `image` (a normalized name): ImageLocality's spread."""
        if self.indexed_image_nodes is not None:
            return self.indexed_image_nodes(image)
        return sum(1 for node in self.nodes() if image in node.images)


PluginArgs = Mapping[str, Any]
PluginFactory = Callable[[PluginArgs, Handle], Plugin]
Registry = Mapping[str, PluginFactory]
