"""NodeName: a pod that names its node (spec.nodeName) fits only there.

The scheduler never queues such pods (they are bound already); the plugin keeps the framework
honest for callers that evaluate pinned pods, as kube-scheduler's does.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.scheduler.framework import (
    SKIP,
    SUCCESS,
    ClusterEvent,
    CycleState,
    NodeInfo,
    PodInfo,
    Status,
    unresolvable,
)

NAME = "NodeName"
REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.pod.spec.node_name else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if node.name == pod.pod.spec.node_name else unresolvable(REASON)

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADDED})
