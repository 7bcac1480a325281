"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes no new pods...

...unless the pod tolerates the taint Kubernetes uses to express it,
node.kubernetes.io/unschedulable:NoSchedule (DaemonSet-style pods do). No pre_filter: a walk
over every node to see whether any is cordoned costs more than the filter on the nodes looked at;
the NodeTable's column answers for every node at once.
"""

from __future__ import annotations

import numpy as np

from cluster.api.taints import tolerated
from cluster.scheduler.framework import (
    SUCCESS,
    ClusterEvent,
    CycleState,
    Mask,
    NodeInfo,
    NodeTable,
    PodInfo,
    Status,
    unresolvable,
)
from raykube.v1 import node_pb2

NAME = "NodeUnschedulable"
REASON = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT = node_pb2.Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


class NodeUnschedulable:
    name = NAME
    exact_vector = True  # filter_vector says the whole rule: False is a rejection

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask:
        cordoned = nodes.unschedulable
        if cordoned.any() and tolerated(pod.pod.spec.tolerations, UNSCHEDULABLE_TAINT):
            return np.ones(len(nodes), dtype=bool)
        return ~cordoned

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if node.unschedulable and not tolerated(pod.pod.spec.tolerations, UNSCHEDULABLE_TAINT):
            return unresolvable(REASON)
        return SUCCESS

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED})
