"""Conditions in an object's status (pods, nodes, namespaces, workloads): find, read and set them.

API conventions: one condition per type; setting one replaces its status, reason and message,
and moves lastTransitionTime only when the status changes (or the condition is new), so the time
says since when the status holds. A node's Ready condition also carries lastHeartbeatTime, which
its kubelet sets on every beat.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from google.protobuf.internal.containers import RepeatedCompositeFieldContainer
from google.protobuf.timestamp_pb2 import Timestamp

from raykube.v1 import apps_pb2, namespace_pb2, node_pb2, pod_pb2

C = TypeVar(
    "C",
    pod_pb2.PodCondition,
    node_pb2.NodeCondition,
    namespace_pb2.NamespaceCondition,
    apps_pb2.ReplicaSetCondition,
    apps_pb2.DeploymentCondition,
)


def find(conditions: Iterable[C], kind: str) -> C | None:
    """The condition of type `kind`, or None."""
    return next((c for c in conditions if c.type == kind), None)


def is_true(conditions: Iterable[C], kind: str) -> bool:
    condition = find(conditions, kind)
    return condition is not None and condition.status == "True"


def set_condition(
    conditions: RepeatedCompositeFieldContainer[C],
    kind: str,
    status: str,
    now: Timestamp,
    reason: str = "",
    message: str = "",
) -> C:
    """Set the condition of type `kind` (added if missing); returns it."""
    condition = find(conditions, kind)
    if condition is None:
        condition = conditions.add(type=kind)
    if condition.status != status or not condition.HasField("last_transition_time"):
        condition.last_transition_time.CopyFrom(now)
    condition.status, condition.reason, condition.message = status, reason, message
    return condition
