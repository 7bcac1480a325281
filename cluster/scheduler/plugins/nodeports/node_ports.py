"""NodePorts: a container port published on the node (hostPort) fits only where no other pod
publishes the same port and protocol. Pods without hostPorts skip it (pre_filter). raykube's
ports have no hostIP, so every hostPort is taken on all of the node's addresses (0.0.0.0)."""

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
    unschedulable,
)

NAME = "NodePorts"
REASON = "node(s) didn't have free ports for the requested pod ports"


class NodePorts:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        return SUCCESS if pod.host_ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        used = node.used_ports
        return unschedulable(REASON) if any(port in used for port in pod.host_ports) else SUCCESS

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADDED, ClusterEvent.ASSIGNED_POD_DELETED})
