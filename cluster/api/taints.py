"""Whether a pod's toleration covers a node's taint (Kubernetes' Toleration.ToleratesTaint), pure."""

from __future__ import annotations

from collections.abc import Iterable

from raykube.v1 import node_pb2, pod_pb2


def tolerates(toleration: pod_pb2.Toleration, taint: node_pb2.Taint) -> bool:
    """Effect, key, then value by operator (an empty effect or key matches every one)."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    operator = toleration.operator or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and toleration.value == taint.value


def tolerated(tolerations: Iterable[pod_pb2.Toleration], taint: node_pb2.Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)
