"""Which pods a ReplicaSet deletes first when it has too many (Kubernetes' ActivePods order).

Cheapest to lose first: unscheduled before scheduled; Pending before Unknown before Running; not
ready before ready; ready for less time before ready for longer; more restarts before fewer;
newer before older. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.api import pods as podutil
from raykube.v1 import pod_pb2

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def _rank(pod: pod_pb2.Pod) -> tuple[int, int, int, float, int, float]:
    ready_since = podutil.ready_since(pod)
    return (
        1 if pod.spec.node_name else 0,
        _PHASE_RANK.get(pod.status.phase, 0),
        1 if ready_since is not None else 0,
        -(ready_since or 0.0),  # more recently ready first
        -podutil.restarts(pod),  # more restarts first
        -float(pod.metadata.creation_timestamp.seconds),  # newer first
    )


def deletion_order(pods: Sequence[pod_pb2.Pod]) -> list[pod_pb2.Pod]:
    """`pods`, the ones to delete first first."""
    return sorted(pods, key=_rank)
