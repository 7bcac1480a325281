"""How objects look on a terminal: kubectl's tables, ages and STATUS column, and -o formats.

Pure functions from objects (and "now") to text, so every column rule is unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from cluster.api import codec, conditions, resources
from cluster.cli import jsonpath
from raykube.v1 import node_pb2, pod_pb2

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


HEADERS = {
    "pods": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE"]),
    "nodes": (
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
    ),
}


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
) -> str:
    base, extra = HEADERS[resource.name]
    header = (["NAMESPACE"] if namespace_column else []) + base + (extra if wide else [])
    rows: list[list[str]] = [header]
    for obj in objects:
        row = pod_row(obj, now, wide) if resource is resources.PODS else node_row(obj, now, wide)
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
) -> str:
    """Objects in the -o format asked for ("" or "wide" for a table)."""
    if output in ("", "wide"):
        if not objects:
            return ""
        return render_table(resource, objects, now, wide=output == "wide", namespace_column=namespace_column)
    if output == "name":
        return "\n".join(f"{resource.singular}/{o.metadata.name}" for o in objects)
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
