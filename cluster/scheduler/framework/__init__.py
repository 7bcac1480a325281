"""The scheduling framework: extension-point Protocols, Status, CycleState, NodeInfo and the runtime.

Plugins (cluster/scheduler/plugins) import from here; this package imports no plugin.
"""

from cluster.scheduler.framework.config import DEFAULT_PLUGINS, DEFAULT_SCORE_WEIGHTS, FrameworkConfig
from cluster.scheduler.framework.cycle_state import CycleState, StateKey
from cluster.scheduler.framework.interfaces import (
    MAX_NODE_SCORE,
    NOMINATED_PODS,
    NOMINATION,
    Binder,
    BindPlugin,
    ClusterEvent,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    Nomination,
    NormalizeScorePlugin,
    Plugin,
    PluginArgs,
    PluginFactory,
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
from cluster.scheduler.framework.node_table import Column, Mask, NodeTable
from cluster.scheduler.framework.pod_info import AffinityTerm, PodInfo, WeightedTerm, pod_key
from cluster.scheduler.framework.runtime import Diagnosis, Framework
from cluster.scheduler.framework.status import (
    SKIP,
    SUCCESS,
    Code,
    Status,
    error,
    merge,
    unresolvable,
    unschedulable,
)

__all__ = [
    "DEFAULT_PLUGINS",
    "DEFAULT_SCORE_WEIGHTS",
    "MAX_NODE_SCORE",
    "NOMINATED_PODS",
    "NOMINATION",
    "SKIP",
    "SUCCESS",
    "AffinityTerm",
    "BindPlugin",
    "Binder",
    "ClusterEvent",
    "Code",
    "Column",
    "CycleState",
    "Diagnosis",
    "EnqueueExtensions",
    "FilterPlugin",
    "Framework",
    "FrameworkConfig",
    "Handle",
    "Mask",
    "NodeInfo",
    "NodeTable",
    "Nomination",
    "NormalizeScorePlugin",
    "Plugin",
    "PluginArgs",
    "PluginFactory",
    "PodInfo",
    "PostFilterPlugin",
    "PreFilterPlugin",
    "PreScorePlugin",
    "Registry",
    "ReservePlugin",
    "ScorePlugin",
    "StateKey",
    "Status",
    "VectorFilterPlugin",
    "VectorScorePlugin",
    "WeightedTerm",
    "error",
    "merge",
    "pod_key",
    "unresolvable",
    "unschedulable",
]
