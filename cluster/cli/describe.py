"""`raykube describe`: kubectl's human-readable detail view of pods, nodes, workloads, namespaces.

Built as sections of (key, value) pairs whose values align within each section, as kubectl does.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api.tables import human_duration, node_status_text, pod_status_text, selector_text
from cluster.api.wellknown import REVISION
from raykube.v1 import apps_pb2, event_pb2, meta_pb2, namespace_pb2, node_pb2, pod_pb2, service_pb2

Pair = tuple[str, str]


def _time(ts: Timestamp) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(ts.seconds))


def _labels(values: Mapping[str, str]) -> list[str]:
    return [f"{k}={v}" for k, v in sorted(values.items())] or ["<none>"]


def _section(pairs: Iterable[tuple[str, str | list[str]]], indent: int = 0) -> list[str]:
    """Aligned `Key:  value` lines; a list value continues on following lines under the first."""
    items = list(pairs)
    width = max((len(k) for k, _ in items), default=0) + 2
    lines = []
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        head = f"{' ' * indent}{key + ':':<{width}}"
        lines.append(f"{head}{values[0] if values else ''}".rstrip())
        lines.extend(f"{' ' * len(head)}{v}" for v in values[1:])
    return lines


def _state(state: pod_pb2.ContainerState) -> list[tuple[str, str | list[str]]]:
    if state.HasField("running"):
        return [("State", "Running"), ("  Started", _time(state.running.started_at))]
    if state.HasField("terminated"):
        done = state.terminated
        pairs: list[tuple[str, str | list[str]]] = [
            ("State", "Terminated"),
            ("  Reason", done.reason),
            ("  Exit Code", str(done.exit_code)),
        ]
        if done.HasField("started_at"):
            pairs.append(("  Started", _time(done.started_at)))
        if done.HasField("finished_at"):
            pairs.append(("  Finished", _time(done.finished_at)))
        return pairs
    if state.HasField("waiting"):
        pairs = [("State", "Waiting"), ("  Reason", state.waiting.reason)]
        return pairs + ([("  Message", state.waiting.message)] if state.waiting.message else [])
    return [("State", "Waiting")]


def _container(container: pod_pb2.Container, status: pod_pb2.ContainerStatus | None) -> list[str]:
    pairs: list[tuple[str, str | list[str]]] = []
    if status is not None and status.container_id:
        pairs.append(("Container ID", status.container_id))
    pairs.append(("Image", container.image))
    if status is not None and status.image_id:
        pairs.append(("Image ID", status.image_id))
    ports = [f"{p.container_port}/{p.protocol or 'TCP'}" for p in container.ports]
    pairs.append(("Port", ", ".join(ports) or "<none>"))
    if container.command:
        pairs.append(("Command", list(container.command)))
    if container.args:
        pairs.append(("Args", list(container.args)))
    if status is not None:
        pairs += _state(status.state)
        if status.last_state.ListFields():
            pairs += [(("Last State" if k == "State" else k), v) for k, v in _state(status.last_state)]
        pairs += [("Ready", str(status.ready)), ("Restart Count", str(status.restart_count))]
    for title, values in (("Limits", container.resources.limits), ("Requests", container.resources.requests)):
        if values:
            pairs.append((title, [f"{k}: {v}" for k, v in sorted(values.items())]))
    env = [f"{e.name}: {e.value}" for e in container.env]
    pairs.append(("Environment", env or "<none>"))
    return [f"  {container.name}:", *_section(pairs, indent=4)]


def describe_pod(pod: pod_pb2.Pod) -> str:
    meta, spec, status = pod.metadata, pod.spec, pod.status
    node = (
        f"{spec.node_name}/{status.host_ip}"
        if spec.node_name and status.host_ip
        else spec.node_name or "<none>"
    )
    head: list[tuple[str, str | list[str]]] = [
        ("Name", meta.name),
        ("Namespace", meta.namespace),
        ("Node", node),
    ]
    if status.HasField("start_time"):
        head.append(("Start Time", _time(status.start_time)))
    head += [
        ("Labels", _labels(meta.labels)),
        ("Annotations", _labels(meta.annotations)),
        ("Status", pod_status_text(pod)),
    ]
    if meta.HasField("deletion_timestamp"):
        head.append(("Termination Grace Period", f"{meta.deletion_grace_period_seconds}s"))
    if status.message:
        head.append(("Message", status.message))
    head.append(("IP", status.pod_ip or "<none>"))
    lines = _section(head)
    by_name = {s.name: s for s in status.container_statuses}
    lines.append("Containers:")
    for container in spec.containers:
        lines += _container(container, by_name.get(container.name))
    lines.append("Conditions:")
    rows = [("Type", "Status", "Reason")] + [(c.type, c.status, c.reason) for c in status.conditions]
    width = max(len(r[0]) for r in rows) + 3
    lines += [f"  {t:<{width}}{s:<9}{r}".rstrip() for t, s, r in rows]
    unscheduled = [c.message for c in status.conditions if c.type == "PodScheduled" and c.status == "False"]
    tolerations = [
        f"{t.key or '<all>'}{'=' + t.value if t.value else ''}:{t.effect or '<all>'}"
        for t in spec.tolerations
    ]
    lines += _section([
        ("QoS Class", status.qos_class or "<none>"),
        ("Node-Selectors", _labels(spec.node_selector)),
        ("Tolerations", tolerations or "<none>"),
        *([("Scheduling", unscheduled[0])] if unscheduled else []),
    ])  # fmt: skip
    return "\n".join(lines)


def describe_node(node: node_pb2.Node) -> str:
    meta, status, info = node.metadata, node.status, node.status.node_info
    taints = [f"{t.key}{'=' + t.value if t.value else ''}:{t.effect}" for t in node.spec.taints]
    lines = _section([
        ("Name", meta.name),
        ("Roles", sorted(k.split("/", 1)[1] for k in meta.labels if k.startswith("node-role.kubernetes.io/"))
         or "<none>"),
        ("Labels", _labels(meta.labels)),
        ("Annotations", _labels(meta.annotations)),
        ("CreationTimestamp", _time(meta.creation_timestamp)),
        ("Taints", taints or "<none>"),
        ("Unschedulable", str(node.spec.unschedulable).lower()),
        ("Status", node_status_text(node)),
    ])  # fmt: skip
    lines.append("Conditions:")
    rows = [("Type", "Status", "LastHeartbeatTime", "Reason", "Message")] + [
        (c.type, c.status, _time(c.last_heartbeat_time), c.reason, c.message) for c in status.conditions
    ]
    widths = [max(len(r[i]) for r in rows) + 3 for i in range(4)]
    lines += ["  " + "".join(f"{v:<{w}}" for v, w in zip(r[:4], widths, strict=True)) + r[4] for r in rows]
    lines.append("Addresses:")
    lines += _section([(a.type, a.address) for a in status.addresses], indent=2)
    for title, values in (("Capacity", status.capacity), ("Allocatable", status.allocatable)):
        lines.append(f"{title}:")
        lines += _section(sorted(values.items()), indent=2)
    lines.append("System Info:")
    lines += _section([
        ("Machine ID", info.machine_id), ("Kernel Version", info.kernel_version), ("OS Image", info.os_image),
        ("Operating System", info.operating_system), ("Architecture", info.architecture),
        ("Container Runtime Version", info.container_runtime_version),
        ("Kubelet Version", info.kubelet_version),
    ], indent=2)  # fmt: skip
    return "\n".join(lines)


def _conditions_table(rows: list[tuple[str, str, str]]) -> list[str]:
    table = [("Type", "Status", "Reason"), ("----", "------", "------"), *rows]
    width = max(len(r[0]) for r in table) + 3
    return [f"  {t:<{width}}{s:<8}{r}".rstrip() for t, s, r in table]


def _template(template: pod_pb2.PodTemplateSpec) -> list[str]:
    lines = [
        "Pod Template:",
        *_section([("Labels", _labels(template.metadata.labels))], indent=2),
        "  Containers:",
    ]
    for container in template.spec.containers:
        lines += [f"  {line}" for line in _container(container, None)]
    return lines


def _head(meta: meta_pb2.ObjectMeta, *, namespaced: bool = True) -> list[tuple[str, str | list[str]]]:
    pairs: list[tuple[str, str | list[str]]] = [("Name", meta.name)]
    if namespaced:
        pairs.append(("Namespace", meta.namespace))
    pairs += [
        ("CreationTimestamp", _time(meta.creation_timestamp)),
        ("Labels", _labels(meta.labels)),
        ("Annotations", _labels(meta.annotations)),
    ]
    controller = next((ref for ref in meta.owner_references if ref.controller), None)
    if controller is not None:
        pairs.append(("Controlled By", f"{controller.kind}/{controller.name}"))
    return pairs


def describe_deployment(d: apps_pb2.Deployment, sets: Iterable[apps_pb2.ReplicaSet]) -> str:
    spec, status = d.spec, d.status
    strategy: list[tuple[str, str | list[str]]] = [("StrategyType", spec.strategy.type)]
    strategy.append(("MinReadySeconds", str(spec.min_ready_seconds)))
    if spec.strategy.type == "RollingUpdate":
        rolling = spec.strategy.rolling_update
        strategy.append(
            (
                "RollingUpdateStrategy",
                f"{rolling.max_unavailable} max unavailable, {rolling.max_surge} max surge",
            )
        )
    replicas = (
        f"{spec.replicas} desired | {status.updated_replicas} updated | {status.replicas} total | "
        f"{status.available_replicas} available | {status.unavailable_replicas} unavailable"
    )
    lines = _section(
        [*_head(d.metadata), ("Selector", selector_text(spec.selector)), ("Replicas", replicas), *strategy]
    )
    lines += _template(spec.template)
    lines += ["Conditions:", *_conditions_table([(c.type, c.status, c.reason) for c in status.conditions])]
    new_hash = d.metadata.annotations.get(REVISION, "")
    owned = list(sets)
    new = [rs for rs in owned if rs.metadata.annotations.get(REVISION) == new_hash]
    old = [rs for rs in owned if rs not in new and (rs.spec.replicas or rs.status.replicas)]

    def shown(items: list[apps_pb2.ReplicaSet]) -> str:
        return ", ".join(f"{rs.metadata.name} ({rs.status.replicas}/{rs.spec.replicas} replicas created)"
                         for rs in items) or "<none>"  # fmt: skip

    lines += _section([("OldReplicaSets", shown(old)), ("NewReplicaSet", shown(new))])
    return "\n".join(lines)


def describe_replica_set(rs: apps_pb2.ReplicaSet, pods: Iterable[pod_pb2.Pod]) -> str:
    phases = [p.status.phase for p in pods]
    counts = {phase: phases.count(phase) for phase in ("Running", "Pending", "Succeeded", "Failed")}
    lines = _section([
        *_head(rs.metadata),
        ("Selector", selector_text(rs.spec.selector)),
        ("Replicas", f"{rs.status.replicas} current / {rs.spec.replicas} desired"),
        ("Pods Status", f"{counts['Running']} Running / {counts['Pending']} Waiting / "
                        f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed"),
    ])  # fmt: skip
    lines += _template(rs.spec.template)
    if rs.status.conditions:
        lines += [
            "Conditions:",
            *_conditions_table([(c.type, c.status, c.reason) for c in rs.status.conditions]),
        ]
    return "\n".join(lines)


def describe_namespace(namespace: namespace_pb2.Namespace) -> str:
    lines = _section(
        [*_head(namespace.metadata, namespaced=False), ("Status", namespace.status.phase or "Active")]
    )
    return "\n".join([*lines, "", "No resource quota.", "", "No LimitRange resource."])


def _event_age(event: event_pb2.Event, now: float) -> str:
    last = event.last_timestamp if event.HasField("last_timestamp") else event.metadata.creation_timestamp
    age = human_duration(now - last.seconds)
    if event.count > 1 and event.HasField("first_timestamp"):
        return f"{age} (x{event.count} over {human_duration(now - event.first_timestamp.seconds)})"
    return age


def events_section(events: Iterable[event_pb2.Event], now: float) -> str:
    """kubectl's Events table, oldest first: Type, Reason, Age, From, Message."""
    ordered = sorted(events, key=lambda e: (e.last_timestamp.seconds, e.metadata.creation_timestamp.seconds))
    if not ordered:
        return "Events:  <none>"
    rows = [("Type", "Reason", "Age", "From", "Message"), ("----", "------", "----", "----", "-------")]
    rows += [(e.type, e.reason, _event_age(e, now), e.source.component, e.message) for e in ordered]
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(4)]
    lines = ["  " + "".join(f"{v:<{w}}" for v, w in zip(r[:4], widths, strict=True)) + r[4] for r in rows]
    return "\n".join(["Events:", *lines])


def describe_service(service: service_pb2.Service, endpoints: service_pb2.Endpoints | None) -> str:
    spec = service.spec
    addresses = [f"{a.ip}:{p.port}" for s in (endpoints.subsets if endpoints else []) for a in s.addresses
                 for p in s.ports]  # fmt: skip
    pairs: list[tuple[str, str | list[str]]] = [
        ("Name", service.metadata.name),
        ("Namespace", service.metadata.namespace),
        ("Labels", _labels(service.metadata.labels)),
        ("Annotations", _labels(service.metadata.annotations)),
        ("Selector", ",".join(f"{k}={v}" for k, v in sorted(spec.selector.items())) or "<none>"),
        ("Type", spec.type),
        ("IP Family Policy", spec.ip_family_policy or "SingleStack"),
        ("IP Families", ",".join(spec.ip_families) or "IPv4"),
        ("IP", spec.cluster_ip or "<none>"),
        ("IPs", ",".join(spec.cluster_ips) or "<none>"),
    ]
    for port in spec.ports:
        name = port.name or "<unset>"
        pairs.append(("Port", f"{name}  {port.port}/{port.protocol}"))
        target = port.target_port or str(port.port)
        pairs.append(("TargetPort", f"{target}/{port.protocol}"))
        if port.node_port:
            pairs.append(("NodePort", f"{name}  {port.node_port}/{port.protocol}"))
    pairs.append(("Endpoints", ",".join(addresses) or "<none>"))
    pairs.append(("Session Affinity", spec.session_affinity or "None"))
    if spec.type == "NodePort":
        pairs.append(("External Traffic Policy", spec.external_traffic_policy or "Cluster"))
    return "\n".join(_section(pairs))
