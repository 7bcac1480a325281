"""Per-resource rules the generic registry applies: defaults, validation, status, deletion, expiry.

Like kube-apiserver's rest strategies: the registry owns the storage flow (read, precondition,
write with the mod revision read), a strategy owns what is specific to a kind.
"""

from __future__ import annotations

from typing import Any, Generic, cast

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import resources, wellknown
from cluster.api.resources import T
from cluster.apiserver import admission, allocation, defaults, validation
from cluster.apiserver.allocation import Allocator, ServiceNetwork
from cluster.apiserver.rbac import validation as rbac_validation
from cluster.errors import FieldError
from raykube.v1 import (
    apps_pb2,
    coordination_pb2,
    discovery_pb2,
    event_pb2,
    namespace_pb2,
    node_pb2,
    pod_pb2,
    rbac_pb2,
    scheduling_pb2,
    service_pb2,
    serviceaccount_pb2,
)

EVENT_TTL_SECONDS = 3600  # Events expire an hour after their last write (kube-apiserver's --event-ttl)


class Strategy(Generic[T]):
    """The default rules: no defaults, status only through its subresource, deletion is immediate."""

    resource: resources.Resource[T]
    ttl_seconds = 0  # >0: objects expire this long after their last write (a store lease)

    def default(self, obj: T) -> None:
        """Fill in what the manifest left out (runs before validation, on create and update)."""

    def prepare_for_create(self, obj: T, now: Timestamp) -> None:
        """Reset what a client may not set on create (the status, for kinds with one), and admit."""
        if self.resource.has_status:
            obj.ClearField("status")

    def keep_admitted(self, new: T, old: T) -> None:
        """On an update, carry over what admission set on create and the manifest leaves out."""

    def validate(self, obj: T) -> list[FieldError]:
        raise NotImplementedError

    def validate_update(self, new: T, old: T) -> list[FieldError]:
        return self.validate(new)

    def validate_status(self, new: T) -> list[FieldError]:
        return []

    def grace_period(self, obj: T, requested: int | None) -> int:
        """Seconds of graceful termination before the object leaves the store; 0 deletes now."""
        return 0

    def finalizers(self, obj: T) -> list[str]:
        """What must still happen before a deleted object may leave the store."""
        return list(obj.metadata.finalizers)

    def prepare_for_delete(self, obj: T) -> None:
        """Mark an object that starts terminating (a namespace's phase)."""

    def allocate(self, obj: T, kept: T | None) -> None:
        """Fill in what is allocated from a shared range (a Service's ClusterIP, NodePorts);
        `kept`: the stored object, on an update, whose allocations carry over."""

    def claims(self, obj: T) -> dict[str, str]:
        """Claim keys for what `obj` holds from a shared range -> the field holding each value."""
        return {}

    def reallocate(self, obj: T, field: str, taken: set[str]) -> None:
        """A value `allocate` picked for `field` was taken meanwhile: pick another (its claim key
        not among the `taken` ones)."""
        raise NotImplementedError(f"{self.resource.kind} allocates nothing")


class PodStrategy(Strategy[pod_pb2.Pod]):
    resource = resources.PODS

    def default(self, obj: pod_pb2.Pod) -> None:
        defaults.default_pod(obj)
        admission.default_toleration_seconds(obj)  # on updates too: a re-applied manifest stays equal

    def prepare_for_create(self, obj: pod_pb2.Pod, now: Timestamp) -> None:
        super().prepare_for_create(obj, now)
        obj.status.phase = "Pending"
        obj.status.qos_class = defaults.qos_class(obj)

    def keep_admitted(self, new: pod_pb2.Pod, old: pod_pb2.Pod) -> None:
        """Priority admission's fields (a re-applied manifest says nothing of them)."""
        spec, before = new.spec, old.spec
        if not spec.HasField("priority") and before.HasField("priority"):
            spec.priority = before.priority
            spec.priority_class_name = spec.priority_class_name or before.priority_class_name
        if not spec.HasField("preemption_policy") and before.HasField("preemption_policy"):
            spec.preemption_policy = before.preemption_policy

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

    def prepare_for_create(self, obj: node_pb2.Node, now: Timestamp) -> None:
        """A kubelet registers its Node with its status (unlike other kinds)."""

    def validate(self, obj: node_pb2.Node) -> list[FieldError]:
        return validation.node(obj)


class NamespaceStrategy(Strategy[namespace_pb2.Namespace]):
    resource = resources.NAMESPACES

    def default(self, obj: namespace_pb2.Namespace) -> None:
        defaults.default_namespace(obj)

    def prepare_for_create(self, obj: namespace_pb2.Namespace, now: Timestamp) -> None:
        super().prepare_for_create(obj, now)
        del obj.spec.finalizers[:]
        obj.spec.finalizers.append(wellknown.NAMESPACE_FINALIZER)

    def validate(self, obj: namespace_pb2.Namespace) -> list[FieldError]:
        return validation.namespace(obj)

    def finalizers(self, obj: namespace_pb2.Namespace) -> list[str]:
        return [*obj.metadata.finalizers, *obj.spec.finalizers]

    def prepare_for_delete(self, obj: namespace_pb2.Namespace) -> None:
        obj.status.phase = "Terminating"


class ReplicaSetStrategy(Strategy[apps_pb2.ReplicaSet]):
    resource = resources.REPLICASETS

    def default(self, obj: apps_pb2.ReplicaSet) -> None:
        defaults.default_replica_set(obj)

    def validate(self, obj: apps_pb2.ReplicaSet) -> list[FieldError]:
        return validation.replica_set(obj)

    def validate_update(self, new: apps_pb2.ReplicaSet, old: apps_pb2.ReplicaSet) -> list[FieldError]:
        return validation.replica_set_update(new, old)

    def validate_status(self, new: apps_pb2.ReplicaSet) -> list[FieldError]:
        return validation.replica_set_status(new)


class DeploymentStrategy(Strategy[apps_pb2.Deployment]):
    resource = resources.DEPLOYMENTS

    def default(self, obj: apps_pb2.Deployment) -> None:
        defaults.default_deployment(obj)

    def validate(self, obj: apps_pb2.Deployment) -> list[FieldError]:
        return validation.deployment(obj)

    def validate_update(self, new: apps_pb2.Deployment, old: apps_pb2.Deployment) -> list[FieldError]:
        return validation.deployment_update(new, old)

    def validate_status(self, new: apps_pb2.Deployment) -> list[FieldError]:
        return validation.deployment_status(new)


class EventStrategy(Strategy[event_pb2.Event]):
    resource = resources.EVENTS
    ttl_seconds = EVENT_TTL_SECONDS

    def validate(self, obj: event_pb2.Event) -> list[FieldError]:
        return validation.event(obj)


class LeaseStrategy(Strategy[coordination_pb2.Lease]):
    resource = resources.LEASES

    def validate(self, obj: coordination_pb2.Lease) -> list[FieldError]:
        return validation.lease(obj)


class PriorityClassStrategy(Strategy[scheduling_pb2.PriorityClass]):
    resource = resources.PRIORITYCLASSES

    def default(self, obj: scheduling_pb2.PriorityClass) -> None:
        if not obj.HasField("preemption_policy"):
            obj.preemption_policy = "PreemptLowerPriority"

    def validate(self, obj: scheduling_pb2.PriorityClass) -> list[FieldError]:
        return validation.priority_class(obj)

    def validate_update(
        self, new: scheduling_pb2.PriorityClass, old: scheduling_pb2.PriorityClass
    ) -> list[FieldError]:
        return validation.priority_class_update(new, old)


class ServiceStrategy(Strategy[service_pb2.Service]):
    resource = resources.SERVICES

    def __init__(self, network: ServiceNetwork):
        self.network = network
        self._allocator = Allocator(network)

    def default(self, obj: service_pb2.Service) -> None:
        defaults.default_service(obj)

    def validate(self, obj: service_pb2.Service) -> list[FieldError]:
        return validation.service(obj, self.network)

    def validate_update(self, new: service_pb2.Service, old: service_pb2.Service) -> list[FieldError]:
        return validation.service_update(new, old, self.network)

    def allocate(self, obj: service_pb2.Service, kept: service_pb2.Service | None) -> None:
        self._allocator.fill(obj, kept)

    def claims(self, obj: service_pb2.Service) -> dict[str, str]:
        return allocation.claims(obj)

    def reallocate(self, obj: service_pb2.Service, field: str, taken: set[str]) -> None:
        self._allocator.pick_again(obj, field, taken)


class EndpointsStrategy(Strategy[service_pb2.Endpoints]):
    resource = resources.ENDPOINTS

    def validate(self, obj: service_pb2.Endpoints) -> list[FieldError]:
        return validation.endpoints(obj)


class EndpointSliceStrategy(Strategy[discovery_pb2.EndpointSlice]):
    resource = resources.ENDPOINTSLICES

    def validate(self, obj: discovery_pb2.EndpointSlice) -> list[FieldError]:
        return validation.endpoint_slice(obj)


class ServiceAccountStrategy(Strategy[serviceaccount_pb2.ServiceAccount]):
    resource = resources.SERVICEACCOUNTS

    def validate(self, obj: serviceaccount_pb2.ServiceAccount) -> list[FieldError]:
        return rbac_validation.service_account(obj)


class RoleStrategy(Strategy[rbac_pb2.Role]):
    resource = resources.ROLES

    def validate(self, obj: rbac_pb2.Role) -> list[FieldError]:
        return rbac_validation.role(obj)


class ClusterRoleStrategy(Strategy[rbac_pb2.ClusterRole]):
    resource = resources.CLUSTERROLES

    def validate(self, obj: rbac_pb2.ClusterRole) -> list[FieldError]:
        return rbac_validation.cluster_role(obj)


class RoleBindingStrategy(Strategy[rbac_pb2.RoleBinding]):
    resource = resources.ROLEBINDINGS

    def validate(self, obj: rbac_pb2.RoleBinding) -> list[FieldError]:
        return rbac_validation.role_binding(obj)

    def validate_update(self, new: rbac_pb2.RoleBinding, old: rbac_pb2.RoleBinding) -> list[FieldError]:
        return rbac_validation.binding_update(new, old)


class ClusterRoleBindingStrategy(Strategy[rbac_pb2.ClusterRoleBinding]):
    resource = resources.CLUSTERROLEBINDINGS

    def validate(self, obj: rbac_pb2.ClusterRoleBinding) -> list[FieldError]:
        return rbac_validation.cluster_role_binding(obj)

    def validate_update(
        self, new: rbac_pb2.ClusterRoleBinding, old: rbac_pb2.ClusterRoleBinding
    ) -> list[FieldError]:
        return rbac_validation.binding_update(new, old)


class Strategies:
    """One strategy per resource, configured for this API server (its Service network)."""

    def __init__(self, network: ServiceNetwork):
        made: list[Strategy[Any]] = [
            PodStrategy(), NodeStrategy(), NamespaceStrategy(), ReplicaSetStrategy(), DeploymentStrategy(),
            EventStrategy(), LeaseStrategy(), ServiceStrategy(network), EndpointsStrategy(),
            EndpointSliceStrategy(), ServiceAccountStrategy(), RoleStrategy(), ClusterRoleStrategy(),
            RoleBindingStrategy(), ClusterRoleBindingStrategy(), PriorityClassStrategy(),
        ]  # fmt: skip
        self._by_name = {s.resource.name: s for s in made}
        missing = {r.name for r in resources.ALL} - set(self._by_name)
        if missing:
            raise TypeError(f"no strategy for {sorted(missing)}")

    def __getitem__(self, resource: resources.Resource[T]) -> Strategy[T]:
        return cast(Strategy[T], self._by_name[resource.name])
