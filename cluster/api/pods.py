"""What a pod's status says, the way controllers read it (Kubernetes' podutil): pure functions."""

from __future__ import annotations

from cluster.api import conditions
from raykube.v1 import pod_pb2

TERMINAL_PHASES = ("Succeeded", "Failed")


def is_active(pod: pod_pb2.Pod) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    return pod.status.phase not in TERMINAL_PHASES and not pod.metadata.HasField("deletion_timestamp")


def is_ready(pod: pod_pb2.Pod) -> bool:
    return conditions.is_true(pod.status.conditions, "Ready")


def ready_since(pod: pod_pb2.Pod) -> float | None:
    """When the pod last became Ready (None: it is not ready)."""
    ready = conditions.find(pod.status.conditions, "Ready")
    if ready is None or ready.status != "True":
        return None
    return float(ready.last_transition_time.seconds)


def is_available(pod: pod_pb2.Pod, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least `min_ready_seconds` (available, in a ReplicaSet's or Deployment's sense)."""
    since = ready_since(pod)
    return since is not None and (min_ready_seconds == 0 or since + min_ready_seconds <= now)


def restarts(pod: pod_pb2.Pod) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses)
