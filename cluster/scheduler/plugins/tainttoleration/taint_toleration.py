"""TaintToleration: a node's NoSchedule/NoExecute taints keep out pods that do not tolerate them.

Filter: the first hard taint the pod does not tolerate rejects the node as unresolvable
("node(s) had untolerated taint {key: value}"; evicting pods would not help). Skipped for the
attempt when no node has such a taint.
Score: fewer untolerated PreferNoSchedule taints is better (counted, then reverse-normalized);
only tolerations with effect PreferNoSchedule or empty count, as in Kubernetes.
"""

from __future__ import annotations

from cluster.api.taints import tolerated
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
    unresolvable,
)
from cluster.scheduler.framework.normalize import scale_to_max
from raykube.v1 import node_pb2, pod_pb2

NAME = "TaintToleration"
_PREFER_TOLERATIONS = StateKey[list[pod_pb2.Toleration]](f"{NAME}/preScore")


def untolerated_taint_reason(taint: node_pb2.Taint) -> str:
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


class TaintToleration:
    name = NAME
    exact_vector = True  # filter_vector says the whole rule: False is a rejection

    def filter_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Mask:
        return nodes.tolerating(pod.pod.spec.tolerations)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        tolerations = pod.pod.spec.tolerations
        for taint in node.taints:
            if not tolerated(tolerations, taint):
                return unresolvable(untolerated_taint_reason(taint))
        return SUCCESS

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Status:
        if not nodes.prefer_no_schedule.any():
            return SKIP
        state.write(
            _PREFER_TOLERATIONS,
            [t for t in pod.pod.spec.tolerations if t.effect in ("", "PreferNoSchedule")],
        )
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state.read(_PREFER_TOLERATIONS)
        return sum(1 for taint in node.prefer_no_schedule_taints if not tolerated(tolerations, taint))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        scale_to_max(scores, reverse=True)

    def events(self) -> frozenset[ClusterEvent]:
        return frozenset({ClusterEvent.NODE_ADDED, ClusterEvent.NODE_CHANGED})
