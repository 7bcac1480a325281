"""How objects look on a terminal: kubectl's tables, ages and STATUS column, and -o formats.

Pure functions from objects (and "now") to text, so every column rule is unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import yaml

from cluster.api import codec, conditions, labels, resources
from cluster.cli import jsonpath
from raykube.v1 import (
    apps_pb2,
    coordination_pb2,
    discovery_pb2,
    event_pb2,
    meta_pb2,
    namespace_pb2,
    node_pb2,
    pod_pb2,
    service_pb2,
)

OUTPUT_FORMATS = ("wide", "yaml", "json", "name", "jsonpath=TEMPLATE")


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


def pod_row(pod: pod_pb2.Pod, now: float, wide: bool) -> list[str]:
    statuses = pod.status.container_statuses
    ready = sum(1 for s in statuses if s.ready)
    row = [
        pod.metadata.name,
        f"{ready}/{len(pod.spec.containers)}",
        pod_status_text(pod),
        str(sum(s.restart_count for s in statuses)),
        age(pod, now),
    ]
    if wide:
        row += [pod.status.pod_ip or "<none>", pod.spec.node_name or "<none>"]
    return row


def node_status_text(node: node_pb2.Node) -> str:
    ready = conditions.find(node.status.conditions, "Ready")
    text = "Unknown" if ready is None else ("Ready" if ready.status == "True" else "NotReady")
    return text + (",SchedulingDisabled" if node.spec.unschedulable else "")


def node_row(node: node_pb2.Node, now: float, wide: bool) -> list[str]:
    roles = sorted(
        k.split("/", 1)[1] for k in node.metadata.labels if k.startswith("node-role.kubernetes.io/")
    )
    info = node.status.node_info
    row = [
        node.metadata.name,
        node_status_text(node),
        ",".join(roles) or "<none>",
        age(node, now),
        info.kubelet_version or "<unknown>",
    ]
    if wide:
        internal = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "<none>")
        external = next((a.address for a in node.status.addresses if a.type == "ExternalIP"), "<none>")
        row += [
            internal,
            external,
            info.os_image or "<unknown>",
            info.kernel_version or "<unknown>",
            info.container_runtime_version or "<unknown>",
        ]
    return row


def _containers(spec: pod_pb2.PodSpec) -> list[str]:
    return [",".join(c.name for c in spec.containers), ",".join(c.image for c in spec.containers)]


def selector_text(selector: meta_pb2.LabelSelector) -> str:
    try:
        return str(labels.from_label_selector(selector)) or "<none>"
    except labels.SelectorError:
        return "<invalid>"


def deployment_row(d: apps_pb2.Deployment, now: float, wide: bool) -> list[str]:
    s = d.status
    row = [d.metadata.name, f"{s.ready_replicas}/{d.spec.replicas}", str(s.updated_replicas),
           str(s.available_replicas), age(d, now)]  # fmt: skip
    return [*row, *_containers(d.spec.template.spec), selector_text(d.spec.selector)] if wide else row


def replica_set_row(rs: apps_pb2.ReplicaSet, now: float, wide: bool) -> list[str]:
    s = rs.status
    row = [rs.metadata.name, str(rs.spec.replicas), str(s.replicas), str(s.ready_replicas), age(rs, now)]
    return [*row, *_containers(rs.spec.template.spec), selector_text(rs.spec.selector)] if wide else row


def namespace_row(namespace: namespace_pb2.Namespace, now: float, wide: bool) -> list[str]:
    return [namespace.metadata.name, namespace.status.phase or "Active", age(namespace, now)]


def event_row(event: event_pb2.Event, now: float, wide: bool) -> list[str]:
    involved = event.involved_object
    last = event.last_timestamp if event.HasField("last_timestamp") else event.metadata.creation_timestamp
    return [human_duration(now - last.seconds), event.type, event.reason,
            f"{involved.kind.lower()}/{involved.name}", event.message]  # fmt: skip


def lease_row(lease: coordination_pb2.Lease, now: float, wide: bool) -> list[str]:
    return [lease.metadata.name, lease.spec.holder_identity or "<none>", age(lease, now)]


def service_ports_text(service: service_pb2.Service) -> str:
    """kubectl's PORT(S): 80/TCP, or 80:30080/TCP for a NodePort."""
    return (
        ",".join(
            f"{p.port}{':' + str(p.node_port) if p.node_port else ''}/{p.protocol or 'TCP'}"
            for p in service.spec.ports
        )
        or "<none>"
    )


def service_row(service: service_pb2.Service, now: float, wide: bool) -> list[str]:
    spec = service.spec
    row = [service.metadata.name, spec.type or "ClusterIP", spec.cluster_ip or "<none>", "<none>",
           service_ports_text(service), age(service, now)]  # fmt: skip
    return [*row, ",".join(f"{k}={v}" for k, v in sorted(spec.selector.items())) or "<none>"] if wide else row


def _addresses(pairs: list[str], shown: int = 3) -> str:
    """kubectl's ENDPOINTS column: the first three, then how many more."""
    if not pairs:
        return "<none>"
    more = f" + {len(pairs) - shown} more..." if len(pairs) > shown else ""
    return ",".join(pairs[:shown]) + more


def endpoints_row(endpoints: service_pb2.Endpoints, now: float, wide: bool) -> list[str]:
    pairs: list[str] = []
    for subset in endpoints.subsets:
        for address in subset.addresses:
            pairs += [f"{address.ip}:{p.port}" for p in subset.ports] or [address.ip]
    return [endpoints.metadata.name, _addresses(pairs), age(endpoints, now)]


def endpoint_slice_row(endpoint_slice: discovery_pb2.EndpointSlice, now: float, wide: bool) -> list[str]:
    ports = ",".join(str(p.port) for p in endpoint_slice.ports) or "<unset>"
    addresses = [a for e in endpoint_slice.endpoints for a in e.addresses]
    return [endpoint_slice.metadata.name, endpoint_slice.address_type, ports, _addresses(addresses),
            age(endpoint_slice, now)]  # fmt: skip


Row = Callable[[Any, float, bool], list[str]]
# resource -> (columns, more columns with -o wide, the row of one object)
TABLES: dict[str, tuple[list[str], list[str], Row]] = {
    "pods": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"], pod_row),
    "nodes": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        node_row,
    ),
    "deployments": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                    deployment_row),
    "replicasets": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                    replica_set_row),
    "namespaces": (["NAME", "STATUS", "AGE"], [], namespace_row),
    "events": (["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], [], event_row),
    "leases": (["NAME", "HOLDER", "AGE"], [], lease_row),
    "services": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], service_row),
    "endpoints": (["NAME", "ENDPOINTS", "AGE"], [], endpoints_row),
    "endpointslices": (["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], [], endpoint_slice_row),
}  # fmt: skip


def ref(resource: resources.Resource[Any], name: str) -> str:
    """How kubectl names an object in its messages: pod/web, deployment.apps/web."""
    group = f".{resource.group}" if resource.group else ""
    return f"{resource.singular}{group}/{name}"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def render_table(
    resource: resources.Resource,
    objects: Sequence[Any],
    now: float,
    *,
    wide: bool,
    namespace_column: bool = False,
    kind_in_name: bool = False,
) -> str:
    """A table with kubectl's columns; `kind_in_name`: names as deployment.apps/web (several kinds shown)."""
    base, extra, row_of = TABLES[resource.name]
    header = (["NAMESPACE"] if namespace_column else []) + base + (extra if wide else [])
    rows: list[list[str]] = [header]
    for obj in objects:
        row = row_of(obj, now, wide)
        if kind_in_name:
            row[0] = ref(resource, row[0])
        rows.append(([obj.metadata.namespace] if namespace_column else []) + row)
    return table(rows)


def as_dict(objects: Sequence[resources.ApiObject], single: bool) -> dict[str, Any]:
    if single:
        return codec.encode(objects[0])
    return {"apiVersion": "v1", "kind": "List", "items": [codec.encode(o) for o in objects]}


def render(
    resource: resources.Resource,
    objects: Sequence[resources.ApiObject],
    output: str,
    now: float,
    *,
    single: bool = False,
    namespace_column: bool = False,
    kind_in_name: bool = False,
) -> str:
    """Objects in the -o format asked for ("" or "wide" for a table)."""
    if output in ("", "wide"):
        if not objects:
            return ""
        return render_table(resource, objects, now, wide=output == "wide", namespace_column=namespace_column,
                            kind_in_name=kind_in_name)  # fmt: skip
    if output == "name":
        return "\n".join(ref(resource, o.metadata.name) for o in objects)
    if output == "yaml":
        return yaml.safe_dump(as_dict(objects, single), sort_keys=False).rstrip()
    if output == "json":
        return json.dumps(as_dict(objects, single), indent=4)
    if output.startswith("jsonpath="):
        return jsonpath.render(output.removeprefix("jsonpath="), as_dict(objects, single))
    raise ValueError(
        f"unable to match a printer suitable for the output format {output!r}, allowed formats are: "
        + ",".join(OUTPUT_FORMATS)
    )
