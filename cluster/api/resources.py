"""The resources the API serves: names, groups, kinds, storage keys, selectable fields, the Object envelope.

Adding a kind means: a message in proto/raykube/v1, an arm in `Object`, one `Resource` here, and
a Strategy in the API server. Objects live in the store at `/registry/<resource>/<namespace>/<name>`
(cluster-scoped resources omit the namespace), like kube-apiserver's etcd layout.

API groups as in Kubernetes: the core group ("", apiVersion `v1`: pods, nodes, namespaces, events,
services, endpoints, serviceaccounts), `apps/v1` (replicasets, deployments), `coordination.k8s.io/v1`
(leases), `discovery.k8s.io/v1` (endpointslices) and `rbac.authorization.k8s.io/v1` (roles,
clusterroles, rolebindings, clusterrolebindings).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from cluster.errors import BadRequest, NotFound
from raykube.v1 import (
    api_pb2,
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

# Every typed object the API serves; each has api_version, kind and metadata.
ApiObject = (
    pod_pb2.Pod
    | node_pb2.Node
    | namespace_pb2.Namespace
    | apps_pb2.ReplicaSet
    | apps_pb2.Deployment
    | event_pb2.Event
    | coordination_pb2.Lease
    | scheduling_pb2.PriorityClass
    | service_pb2.Service
    | service_pb2.Endpoints
    | discovery_pb2.EndpointSlice
    | serviceaccount_pb2.ServiceAccount
    | rbac_pb2.Role
    | rbac_pb2.ClusterRole
    | rbac_pb2.RoleBinding
    | rbac_pb2.ClusterRoleBinding
)
# One of them, the same throughout a signature (code generic over kinds is checked for each kind).
T = TypeVar(
    "T",
    pod_pb2.Pod,
    node_pb2.Node,
    namespace_pb2.Namespace,
    apps_pb2.ReplicaSet,
    apps_pb2.Deployment,
    event_pb2.Event,
    coordination_pb2.Lease,
    scheduling_pb2.PriorityClass,
    service_pb2.Service,
    service_pb2.Endpoints,
    discovery_pb2.EndpointSlice,
    serviceaccount_pb2.ServiceAccount,
    rbac_pb2.Role,
    rbac_pb2.ClusterRole,
    rbac_pb2.RoleBinding,
    rbac_pb2.ClusterRoleBinding,
)
REGISTRY_PREFIX = "/registry/"


@dataclass(frozen=True)
class Resource(Generic[T]):
    """One kind of object the API serves."""

    name: str  # plural, as in URLs and `kubectl get`: "pods"
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    message: type[T]
    oneof: str  # the arm of api_pb2.Object that carries it
    field_set: Callable[[T], dict[str, str]]  # the fields a field selector can name
    short_names: tuple[str, ...] = ()
    # The field most watches pin with a field selector (pods: spec.nodeName, one per kubelet);
    # the API server's watch cache indexes it.
    indexed_field: str = ""
    aliases: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aliases", frozenset({self.name, self.singular, *self.short_names}))

    @property
    def api_version(self) -> str:
        """The apiVersion its objects carry: "v1" for the core group, else "<group>/<version>"."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def selectable_fields(self) -> frozenset[str]:
        return frozenset(self.field_set(self.message()))

    @property
    def has_status(self) -> bool:
        """Whether the kind has a status, written only through the status subresource."""
        return "status" in self.message.DESCRIPTOR.fields_by_name

    def key(self, namespace: str, name: str) -> str:
        return f"{self.prefix(namespace)}{name}"

    def prefix(self, namespace: str = "") -> str:
        """Every object of this resource (in `namespace`, if given and namespaced)."""
        base = f"{REGISTRY_PREFIX}{self.name}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base

    def decode(self, data: bytes) -> T:
        """An object from its stored (binary protobuf) form."""
        return self.message.FromString(data)

    def wrap(self, obj: Message) -> api_pb2.Object:
        envelope = api_pb2.Object()
        getattr(envelope, self.oneof).CopyFrom(obj)
        return envelope


def _meta_fields(obj: Any) -> dict[str, str]:
    return {"metadata.name": obj.metadata.name, "metadata.namespace": obj.metadata.namespace}


def _pod_fields(pod: pod_pb2.Pod) -> dict[str, str]:
    return {
        **_meta_fields(pod),
        "spec.nodeName": pod.spec.node_name,
        "spec.restartPolicy": pod.spec.restart_policy,
        "spec.schedulerName": pod.spec.scheduler_name,
        "status.phase": pod.status.phase,
        "status.podIP": pod.status.pod_ip,
    }


def _node_fields(node: node_pb2.Node) -> dict[str, str]:
    return {"metadata.name": node.metadata.name, "spec.unschedulable": str(node.spec.unschedulable).lower()}


def _namespace_fields(namespace: namespace_pb2.Namespace) -> dict[str, str]:
    return {"metadata.name": namespace.metadata.name, "status.phase": namespace.status.phase}


def _event_fields(event: event_pb2.Event) -> dict[str, str]:
    involved = event.involved_object
    return {
        **_meta_fields(event),
        "involvedObject.kind": involved.kind,
        "involvedObject.namespace": involved.namespace,
        "involvedObject.name": involved.name,
        "involvedObject.uid": involved.uid,
        "involvedObject.apiVersion": involved.api_version,
        "involvedObject.resourceVersion": involved.resource_version,
        "involvedObject.fieldPath": involved.field_path,
        "reason": event.reason,
        "reportingComponent": event.reporting_component,
        "source": event.source.component,
        "type": event.type,
    }


def _service_fields(service: service_pb2.Service) -> dict[str, str]:
    return {
        **_meta_fields(service),
        "spec.clusterIP": service.spec.cluster_ip,
        "spec.type": service.spec.type,
    }


PODS = Resource("pods", "pod", "Pod", "", "v1", True, pod_pb2.Pod, "pod", _pod_fields, ("po",),
                indexed_field="spec.nodeName")  # fmt: skip
NODES = Resource("nodes", "node", "Node", "", "v1", False, node_pb2.Node, "node", _node_fields, ("no",))
NAMESPACES = Resource("namespaces", "namespace", "Namespace", "", "v1", False, namespace_pb2.Namespace,
                      "namespace", _namespace_fields, ("ns",))  # fmt: skip
EVENTS = Resource(
    "events", "event", "Event", "", "v1", True, event_pb2.Event, "event", _event_fields, ("ev",)
)
REPLICASETS = Resource("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True, apps_pb2.ReplicaSet,
                       "replica_set", _meta_fields, ("rs",))  # fmt: skip
DEPLOYMENTS = Resource("deployments", "deployment", "Deployment", "apps", "v1", True, apps_pb2.Deployment,
                       "deployment", _meta_fields, ("deploy",))  # fmt: skip
LEASES = Resource("leases", "lease", "Lease", "coordination.k8s.io", "v1", True, coordination_pb2.Lease,
                  "lease", _meta_fields)  # fmt: skip
SERVICES = Resource("services", "service", "Service", "", "v1", True, service_pb2.Service, "service",
                    _service_fields, ("svc",))  # fmt: skip
ENDPOINTS = Resource("endpoints", "endpoints", "Endpoints", "", "v1", True, service_pb2.Endpoints,
                     "endpoints", _meta_fields, ("ep",))  # fmt: skip
ENDPOINTSLICES = Resource("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", True,
                          discovery_pb2.EndpointSlice, "endpoint_slice", _meta_fields)  # fmt: skip
SERVICEACCOUNTS = Resource("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True,
                           serviceaccount_pb2.ServiceAccount, "service_account", _meta_fields,
                           ("sa",))  # fmt: skip
RBAC = "rbac.authorization.k8s.io"
ROLES = Resource("roles", "role", "Role", RBAC, "v1", True, rbac_pb2.Role, "role", _meta_fields)
CLUSTERROLES = Resource("clusterroles", "clusterrole", "ClusterRole", RBAC, "v1", False, rbac_pb2.ClusterRole,
                        "cluster_role", _meta_fields)  # fmt: skip
ROLEBINDINGS = Resource("rolebindings", "rolebinding", "RoleBinding", RBAC, "v1", True, rbac_pb2.RoleBinding,
                        "role_binding", _meta_fields)  # fmt: skip
CLUSTERROLEBINDINGS = Resource("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", RBAC,
                               "v1", False, rbac_pb2.ClusterRoleBinding, "cluster_role_binding",
                               _meta_fields)  # fmt: skip
PRIORITYCLASSES = Resource("priorityclasses", "priorityclass", "PriorityClass", "scheduling.k8s.io", "v1",
                           False, scheduling_pb2.PriorityClass, "priority_class", _meta_fields,
                           ("pc",))  # fmt: skip
ALL: tuple[Resource[Any], ...] = (
    PODS, NODES, NAMESPACES, EVENTS, REPLICASETS, DEPLOYMENTS, LEASES, SERVICES, ENDPOINTS, ENDPOINTSLICES,
    SERVICEACCOUNTS, ROLES, CLUSTERROLES, ROLEBINDINGS, CLUSTERROLEBINDINGS, PRIORITYCLASSES,
)  # fmt: skip
_BY_ALIAS = {alias: r for r in ALL for alias in r.aliases}
_BY_KIND = {r.kind: r for r in ALL}
_BY_ONEOF = {r.oneof: r for r in ALL}


def by_name(name: str) -> Resource[Any]:
    """The resource for a plural, singular or short name ("pods", "pod", "po"), as kubectl accepts;
    a group may follow the name ("deployments.apps")."""
    plural, _, group = name.lower().partition(".")
    resource = _BY_ALIAS.get(plural)
    if resource is None or (group and group != resource.group):
        raise NotFound(f'the server doesn\'t have a resource type "{name}"')
    return resource


def by_kind(kind: str, api_version: str) -> Resource[Any]:
    """The resource of a manifest's kind; BadRequest naming kind and version when none has that kind."""
    resource = _BY_KIND.get(kind)
    if resource is None:
        raise BadRequest(f'no matches for kind "{kind}" in version "{api_version}"')
    return resource


def unwrap(envelope: api_pb2.Object) -> tuple[Resource[Any], Any]:
    """The resource and the typed object inside an `Object` envelope (its type is known at run time
    only, as `resource.message`)."""
    arm = envelope.WhichOneof("kind")
    if arm is None:
        raise BadRequest("object is empty: exactly one of " + ", ".join(sorted(_BY_ONEOF)) + " must be set")
    return _BY_ONEOF[arm], getattr(envelope, arm)


def of(obj: Message) -> Resource[Any]:
    """The resource a typed object belongs to."""
    for resource in ALL:
        if isinstance(obj, resource.message):
            return resource
    raise TypeError(f"{type(obj).__name__} is not an API object")
