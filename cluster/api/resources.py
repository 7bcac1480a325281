"""The resources the API serves: names, kinds, storage keys, selectable fields, and the Object envelope.

Adding a kind means: a message in proto/raykube/v1, an arm in `Object`, and one `Resource` here.
Objects live in the store at `/registry/<resource>/<namespace>/<name>` (cluster-scoped resources
omit the namespace), like kube-apiserver's etcd layout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from cluster.errors import BadRequest, NotFound
from raykube.v1 import api_pb2, node_pb2, pod_pb2

API_VERSION = "v1"
# Every typed object the API serves; each has api_version, kind, metadata, spec and status.
ApiObject = pod_pb2.Pod | node_pb2.Node
# One of them, the same throughout a signature (code generic over kinds is checked for each kind).
T = TypeVar("T", pod_pb2.Pod, node_pb2.Node)
REGISTRY_PREFIX = "/registry/"


@dataclass(frozen=True)
class Resource(Generic[T]):
    """One kind of object the API serves."""

    name: str  # plural, as in URLs and `kubectl get`: "pods"
    singular: str
    kind: str
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
    def selectable_fields(self) -> frozenset[str]:
        return frozenset(self.field_set(self.message()))

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


def _pod_fields(pod: pod_pb2.Pod) -> dict[str, str]:
    return {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace,
        "spec.nodeName": pod.spec.node_name,
        "spec.restartPolicy": pod.spec.restart_policy,
        "spec.schedulerName": pod.spec.scheduler_name,
        "status.phase": pod.status.phase,
        "status.podIP": pod.status.pod_ip,
    }


def _node_fields(node: node_pb2.Node) -> dict[str, str]:
    return {"metadata.name": node.metadata.name, "spec.unschedulable": str(node.spec.unschedulable).lower()}


PODS = Resource(
    "pods", "pod", "Pod", True, pod_pb2.Pod, "pod", _pod_fields, ("po",), indexed_field="spec.nodeName"
)
NODES = Resource("nodes", "node", "Node", False, node_pb2.Node, "node", _node_fields, ("no",))
ALL: tuple[Resource[Any], ...] = (PODS, NODES)
_BY_ALIAS = {alias: r for r in ALL for alias in r.aliases}
_BY_KIND = {r.kind: r for r in ALL}
_BY_ONEOF = {r.oneof: r for r in ALL}


def by_name(name: str) -> Resource:
    """The resource for a plural, singular or short name ("pods", "pod", "po"), as kubectl accepts."""
    resource = _BY_ALIAS.get(name.lower())
    if resource is None:
        raise NotFound(f'the server doesn\'t have a resource type "{name}"')
    return resource


def by_kind(kind: str) -> Resource:
    resource = _BY_KIND.get(kind)
    if resource is None:
        known = ", ".join(sorted(_BY_KIND))
        raise BadRequest(f'no kind "{kind}" is registered for version "{API_VERSION}" (known kinds: {known})')
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
