"""kubectl's columns for every kind, and the rows of objects (pure): the CLI prints them, and the API
server serves them as meta.k8s.io/v1 Tables, which is how `kubectl get` shows anything but NAME and
AGE. Column names are Kubernetes' own ("Up-to-date"); kubectl prints them in capitals, and shows
priority-1 columns only with -o wide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cluster.api import codec, conditions, labels, resources
from raykube.v1 import (
    apps_pb2,
    coordination_pb2,
    discovery_pb2,
    event_pb2,
    meta_pb2,
    namespace_pb2,
    node_pb2,
    pod_pb2,
    scheduling_pb2,
    service_pb2,
    serviceaccount_pb2,
)


def human_duration(seconds: float) -> str:
    """kubectl's compact ages: 45s, 3m20s, 17m, 5h12m, 30h, 3d4h, 120d, 3y."""
    s = max(int(seconds), 0)
    minutes, hours, days = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    return f"{days // 365}y"


def age(obj: resources.ApiObject, now: float) -> str:
    created = obj.metadata.creation_timestamp
    return (
        human_duration(now - created.seconds) if obj.metadata.HasField("creation_timestamp") else "<unknown>"
    )


def pod_status_text(pod: pod_pb2.Pod) -> str:
    """The STATUS column, by kubectl's rules: the last container's waiting or terminated reason wins
    over the phase; "Completed" with a container still running reads Running; Terminating last."""
    reason = pod.status.reason or pod.status.phase or "Pending"
    running = False
    for status in reversed(pod.status.container_statuses):
        state = status.state
        if state.HasField("waiting") and state.waiting.reason:
            reason = state.waiting.reason
        elif state.HasField("terminated"):
            done = state.terminated
            reason = done.reason or (f"Signal:{done.signal}" if done.signal else f"ExitCode:{done.exit_code}")
        elif status.ready and state.HasField("running"):
            running = True
    if reason == "Completed" and running:
        ready = conditions.is_true(pod.status.conditions, "Ready")
        reason = "Running" if ready else "NotReady"
    if pod.metadata.HasField("deletion_timestamp"):
        return "Terminating"
    return reason


def pod_row(pod: pod_pb2.Pod, now: float) -> list[str]:
    statuses = pod.status.container_statuses
    ready = sum(1 for s in statuses if s.ready)
    return [
        pod.metadata.name,
        f"{ready}/{len(pod.spec.containers)}",
        pod_status_text(pod),
        str(sum(s.restart_count for s in statuses)),
        age(pod, now),
        pod.status.pod_ip or "<none>",
        pod.spec.node_name or "<none>",
        "<none>",  # nominated node: no preemption
        "<none>",  # readiness gates
    ]


def node_status_text(node: node_pb2.Node) -> str:
    ready = conditions.find(node.status.conditions, "Ready")
    text = "Unknown" if ready is None else ("Ready" if ready.status == "True" else "NotReady")
    return text + (",SchedulingDisabled" if node.spec.unschedulable else "")


def node_row(node: node_pb2.Node, now: float) -> list[str]:
    roles = sorted(
        k.split("/", 1)[1] for k in node.metadata.labels if k.startswith("node-role.kubernetes.io/")
    )
    info = node.status.node_info
    internal = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "<none>")
    external = next((a.address for a in node.status.addresses if a.type == "ExternalIP"), "<none>")
    return [
        node.metadata.name,
        node_status_text(node),
        ",".join(roles) or "<none>",
        age(node, now),
        info.kubelet_version or "<unknown>",
        internal,
        external,
        info.os_image or "<unknown>",
        info.kernel_version or "<unknown>",
        info.container_runtime_version or "<unknown>",
    ]


def _containers(spec: pod_pb2.PodSpec) -> list[str]:
    return [",".join(c.name for c in spec.containers), ",".join(c.image for c in spec.containers)]


def selector_text(selector: meta_pb2.LabelSelector) -> str:
    try:
        return str(labels.from_label_selector(selector)) or "<none>"
    except labels.SelectorError:
        return "<invalid>"


def deployment_row(d: apps_pb2.Deployment, now: float) -> list[str]:
    s = d.status
    return [d.metadata.name, f"{s.ready_replicas}/{d.spec.replicas}", str(s.updated_replicas),
            str(s.available_replicas), age(d, now), *_containers(d.spec.template.spec),
            selector_text(d.spec.selector)]  # fmt: skip


def replica_set_row(rs: apps_pb2.ReplicaSet, now: float) -> list[str]:
    s = rs.status
    return [rs.metadata.name, str(rs.spec.replicas), str(s.replicas), str(s.ready_replicas), age(rs, now),
            *_containers(rs.spec.template.spec), selector_text(rs.spec.selector)]  # fmt: skip


def namespace_row(namespace: namespace_pb2.Namespace, now: float) -> list[str]:
    return [namespace.metadata.name, namespace.status.phase or "Active", age(namespace, now)]


def event_row(event: event_pb2.Event, now: float) -> list[str]:
    involved = event.involved_object
    last = event.last_timestamp if event.HasField("last_timestamp") else event.metadata.creation_timestamp
    first = event.first_timestamp if event.HasField("first_timestamp") else last
    source = ", ".join(p for p in (event.source.component, event.source.host) if p) or "<none>"
    return [human_duration(now - last.seconds), event.type, event.reason,
            f"{involved.kind.lower()}/{involved.name}", involved.field_path or "", source, event.message,
            human_duration(now - first.seconds), str(event.count or 1), event.metadata.name]  # fmt: skip


def lease_row(lease: coordination_pb2.Lease, now: float) -> list[str]:
    return [lease.metadata.name, lease.spec.holder_identity or "<none>", age(lease, now)]


def priority_class_row(pc: scheduling_pb2.PriorityClass, now: float) -> list[str]:
    return [pc.metadata.name, str(pc.value), str(pc.global_default).lower(), age(pc, now),
            pc.preemption_policy or "PreemptLowerPriority"]  # fmt: skip


def service_ports_text(service: service_pb2.Service) -> str:
    """kubectl's PORT(S): 80/TCP, or 80:30080/TCP for a NodePort."""
    return (
        ",".join(
            f"{p.port}{':' + str(p.node_port) if p.node_port else ''}/{p.protocol or 'TCP'}"
            for p in service.spec.ports
        )
        or "<none>"
    )


def service_row(service: service_pb2.Service, now: float) -> list[str]:
    spec = service.spec
    selector = ",".join(f"{k}={v}" for k, v in sorted(spec.selector.items())) or "<none>"
    return [service.metadata.name, spec.type or "ClusterIP", spec.cluster_ip or "<none>", "<none>",
            service_ports_text(service), age(service, now), selector]  # fmt: skip


def _addresses(pairs: list[str], shown: int = 3) -> str:
    """kubectl's ENDPOINTS column: the first three, then how many more."""
    if not pairs:
        return "<none>"
    more = f" + {len(pairs) - shown} more..." if len(pairs) > shown else ""
    return ",".join(pairs[:shown]) + more


def endpoints_row(endpoints: service_pb2.Endpoints, now: float) -> list[str]:
    pairs: list[str] = []
    for subset in endpoints.subsets:
        for address in subset.addresses:
            pairs += [f"{address.ip}:{p.port}" for p in subset.ports] or [address.ip]
    return [endpoints.metadata.name, _addresses(pairs), age(endpoints, now)]


def endpoint_slice_row(endpoint_slice: discovery_pb2.EndpointSlice, now: float) -> list[str]:
    ports = ",".join(str(p.port) for p in endpoint_slice.ports) or "<unset>"
    addresses = [a for e in endpoint_slice.endpoints for a in e.addresses]
    return [endpoint_slice.metadata.name, endpoint_slice.address_type, ports, _addresses(addresses),
            age(endpoint_slice, now)]  # fmt: skip


def service_account_row(account: serviceaccount_pb2.ServiceAccount, now: float) -> list[str]:
    return [account.metadata.name, "0", age(account, now)]  # no token Secrets: tokens are bound


def created_at_row(obj: Any, now: float) -> list[str]:
    """Kubernetes' default table (kinds without a printer: roles): Name, Created At."""
    return [obj.metadata.name, obj.metadata.creation_timestamp.ToJsonString()]


def binding_row(binding: Any, now: float) -> list[str]:
    def of(kind: str) -> str:
        subjects = binding.subjects
        named = [
            f"{s.namespace}/{s.name}" if kind == "ServiceAccount" else s.name
            for s in subjects
            if s.kind == kind
        ]
        return ", ".join(named)

    role = f"{binding.role_ref.kind}/{binding.role_ref.name}"
    return [binding.metadata.name, role, age(binding, now), of("User"), of("Group"), of("ServiceAccount")]


@dataclass(frozen=True)
class Column:
    name: str
    priority: int = 0  # 1: only with -o wide
    type: str = "string"
    format: str = ""
    description: str = ""


def _columns(spec: str) -> tuple[Column, ...]:
    """Columns from "Name|Ready|...": a trailing * marks a wide-only column; "Name" has format name."""
    return tuple(
        Column(n.rstrip("*"), 1 if n.endswith("*") else 0, format="name" if n == "Name" else "")
        for n in spec.split("|")
    )


Row = Callable[[Any, float], list[str]]
_POD = "Name|Ready|Status|Restarts|Age|IP*|Node*|Nominated Node*|Readiness Gates*"
_NODE = "Name|Status|Roles|Age|Version|Internal-IP*|External-IP*|OS-Image*|Kernel-Version*|Container-Runtime*"
_DEPLOYMENT = "Name|Ready|Up-to-date|Available|Age|Containers*|Images*|Selector*"
_REPLICA_SET = "Name|Desired|Current|Ready|Age|Containers*|Images*|Selector*"
_EVENT = "Last Seen|Type|Reason|Object|Subobject*|Source*|Message|First Seen*|Count*|Name*"
_SERVICE = "Name|Type|Cluster-IP|External-IP|Port(s)|Age|Selector*"
TABLES: dict[str, tuple[tuple[Column, ...], Row]] = {
    "pods": (_columns(_POD), pod_row),
    "nodes": (_columns(_NODE), node_row),
    "deployments": (_columns(_DEPLOYMENT), deployment_row),
    "replicasets": (_columns(_REPLICA_SET), replica_set_row),
    "namespaces": (_columns("Name|Status|Age"), namespace_row),
    "events": (_columns(_EVENT), event_row),
    "leases": (_columns("Name|Holder|Age"), lease_row),
    "services": (_columns(_SERVICE), service_row),
    "endpoints": (_columns("Name|Endpoints|Age"), endpoints_row),
    "endpointslices": (_columns("Name|AddressType|Ports|Endpoints|Age"), endpoint_slice_row),
    "serviceaccounts": (_columns("Name|Secrets|Age"), service_account_row),
    "roles": (_columns("Name|Created At"), created_at_row),
    "clusterroles": (_columns("Name|Created At"), created_at_row),
    "rolebindings": (_columns("Name|Role|Age|Users*|Groups*|ServiceAccounts*"), binding_row),
    "clusterrolebindings": (_columns("Name|Role|Age|Users*|Groups*|ServiceAccounts*"), binding_row),
    "priorityclasses": (_columns("Name|Value|Global-Default|Age|PreemptionPolicy"), priority_class_row),
}


def rows(
    resource: resources.Resource[Any], objects: Sequence[Any], now: float, *, wide: bool
) -> list[list[str]]:
    """A header (kubectl's capitals) and a row per object, with the wide columns if `wide`."""
    columns, row_of = TABLES[resource.name]
    shown = [i for i, c in enumerate(columns) if wide or c.priority == 0]
    header = [columns[i].name.upper() for i in shown]
    return [header] + [[cells[i] for i in shown] for cells in (row_of(o, now) for o in objects)]


def table_json(
    resource: resources.Resource[Any], objects: Sequence[Any], now: float, version: str, token: str = ""
) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `objects`; rows carry the object's metadata (includeObject=Metadata)."""
    columns, row_of = TABLES[resource.name]
    metadata: dict[str, Any] = {"resourceVersion": version}
    if token:
        metadata["continue"] = token
    definitions = [
        {
            "name": c.name,
            "type": c.type,
            "format": c.format,
            "description": c.description,
            "priority": c.priority,
        }
        for c in columns
    ]
    rows = [
        {"cells": row_of(o, now), "object": {**PARTIAL_METADATA, "metadata": codec.encode(o.metadata)}}
        for o in objects
    ]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": rows}  # fmt: skip


PARTIAL_METADATA = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1"}
