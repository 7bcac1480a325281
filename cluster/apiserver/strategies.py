"""Per-resource rules the generic registry applies: defaults, validation, status handling, deletion.

Like kube-apiserver's rest strategies: the registry owns the storage flow (read, precondition,
write with the mod revision read), a strategy owns what is specific to a kind.
"""

from __future__ import annotations

from typing import Any, Generic, cast

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import resources
from cluster.api.resources import T
from cluster.apiserver import defaults, validation
from cluster.errors import FieldError
from raykube.v1 import node_pb2, pod_pb2


class Strategy(Generic[T]):
    """The default rules: no defaults, no status handling, deletion is immediate."""

    resource: resources.Resource[T]

    def default(self, obj: T) -> None:
        """Fill in what the manifest left out (runs before validation, on create and update)."""

    def prepare_for_create(self, obj: T, now: Timestamp) -> None:
        """Reset what a client may not set on create."""

    def validate(self, obj: T) -> list[FieldError]:
        raise NotImplementedError

    def validate_update(self, new: T, old: T) -> list[FieldError]:
        return self.validate(new)

    def validate_status(self, new: T) -> list[FieldError]:
        return []

    def grace_period(self, obj: T, requested: int | None) -> int:
        """Seconds of graceful termination before the object leaves the store; 0 deletes now."""
        return 0


class PodStrategy(Strategy[pod_pb2.Pod]):
    resource = resources.PODS

    def default(self, obj: pod_pb2.Pod) -> None:
        defaults.default_pod(obj)

    def prepare_for_create(self, obj: pod_pb2.Pod, now: Timestamp) -> None:
        obj.ClearField("status")
        obj.status.phase = "Pending"
        obj.status.qos_class = defaults.qos_class(obj)

    def validate(self, obj: pod_pb2.Pod) -> list[FieldError]:
        return validation.pod(obj)

    def validate_update(self, new: pod_pb2.Pod, old: pod_pb2.Pod) -> list[FieldError]:
        return validation.pod_update(new, old)

    def validate_status(self, new: pod_pb2.Pod) -> list[FieldError]:
        return validation.pod_status(new)

    def grace_period(self, obj: pod_pb2.Pod, requested: int | None) -> int:
        """Graceful only when a kubelet has to stop something: bound and not finished (Kubernetes' rule)."""
        if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
            return 0
        grace = obj.spec.termination_grace_period_seconds if requested is None else requested
        return max(grace, 0)


class NodeStrategy(Strategy[node_pb2.Node]):
    resource = resources.NODES

    def default(self, obj: node_pb2.Node) -> None:
        defaults.default_node(obj)

    def validate(self, obj: node_pb2.Node) -> list[FieldError]:
        return validation.node(obj)


_STRATEGIES: dict[str, Strategy[Any]] = {s.resource.name: s for s in (PodStrategy(), NodeStrategy())}


def strategy_for(resource: resources.Resource[T]) -> Strategy[T]:
    return cast(Strategy[T], _STRATEGIES[resource.name])
