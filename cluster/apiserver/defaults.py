"""Defaulting: what the API server fills in when a manifest leaves it out (Kubernetes' v1 defaults).

Runs before validation, so validation sees the object as it will be stored.
"""

from __future__ import annotations

from raykube.v1 import apps_pb2, namespace_pb2, node_pb2, pod_pb2, service_pb2

DEFAULT_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER = "default-scheduler"
DEFAULT_MAX_SURGE = DEFAULT_MAX_UNAVAILABLE = "25%"
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none or is pinned by digest)."""
    if "@" in image:
        return ""
    name = image.rsplit("/", 1)[-1]
    return name.partition(":")[2]


def default_pull_policy(image: str) -> str:
    """Always for ':latest' or untagged images, IfNotPresent otherwise (Kubernetes' rule)."""
    if "@" in image:
        return "IfNotPresent"
    return "Always" if image_tag(image) in ("", "latest") else "IfNotPresent"


def _default_probe(probe: pod_pb2.Probe) -> None:
    probe.timeout_seconds = probe.timeout_seconds or 1
    probe.period_seconds = probe.period_seconds or 10
    probe.success_threshold = probe.success_threshold or 1
    probe.failure_threshold = probe.failure_threshold or 3
    if probe.HasField("http_get"):
        probe.http_get.path = probe.http_get.path or "/"
        probe.http_get.scheme = probe.http_get.scheme or "HTTP"


def default_pod(pod: pod_pb2.Pod) -> None:
    default_pod_spec(pod.spec)
    pod.spec.service_account_name = pod.spec.service_account_name or "default"  # ServiceAccount admission


def default_pod_spec(spec: pod_pb2.PodSpec) -> None:
    spec.restart_policy = spec.restart_policy or "Always"
    spec.scheduler_name = spec.scheduler_name or DEFAULT_SCHEDULER
    if not spec.HasField("termination_grace_period_seconds"):
        spec.termination_grace_period_seconds = DEFAULT_GRACE_PERIOD_SECONDS
    for container in spec.containers:
        container.image_pull_policy = container.image_pull_policy or default_pull_policy(container.image)
        for port in container.ports:
            port.protocol = port.protocol or "TCP"
        resources = container.resources
        for name, limit in resources.limits.items():  # a limit alone implies an equal request
            if name not in resources.requests:
                resources.requests[name] = limit
        for probe_field in ("liveness_probe", "readiness_probe"):
            if container.HasField(probe_field):
                _default_probe(getattr(container, probe_field))
    for toleration in spec.tolerations:
        toleration.operator = toleration.operator or "Equal"


def qos_class(pod: pod_pb2.Pod) -> str:
    """Guaranteed (limits == requests for cpu and memory), BestEffort (none set), else Burstable."""
    containers = pod.spec.containers
    if all(not c.resources.requests and not c.resources.limits for c in containers):
        return "BestEffort"
    guaranteed = all(
        all(
            r in c.resources.limits
            and c.resources.requests.get(r, c.resources.limits[r]) == c.resources.limits[r]
            for r in ("cpu", "memory")
        )
        for c in containers
    )
    return "Guaranteed" if guaranteed else "Burstable"


def default_node(node: node_pb2.Node) -> None:
    for name, value in node.status.capacity.items():  # allocatable defaults to capacity
        if name not in node.status.allocatable:
            node.status.allocatable[name] = value


def default_namespace(namespace: namespace_pb2.Namespace) -> None:
    namespace.status.phase = namespace.status.phase or "Active"


def default_replica_set(replica_set: apps_pb2.ReplicaSet) -> None:
    spec = replica_set.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    default_pod_spec(spec.template.spec)


def default_deployment(deployment: apps_pb2.Deployment) -> None:
    spec = deployment.spec
    if not spec.HasField("replicas"):
        spec.replicas = 1
    strategy = spec.strategy
    strategy.type = strategy.type or "RollingUpdate"
    if strategy.type == "RollingUpdate":
        rolling = strategy.rolling_update
        rolling.max_surge = rolling.max_surge or DEFAULT_MAX_SURGE
        rolling.max_unavailable = rolling.max_unavailable or DEFAULT_MAX_UNAVAILABLE
    if not spec.HasField("revision_history_limit"):
        spec.revision_history_limit = DEFAULT_REVISION_HISTORY_LIMIT
    if not spec.HasField("progress_deadline_seconds"):
        spec.progress_deadline_seconds = DEFAULT_PROGRESS_DEADLINE_SECONDS
    default_pod_spec(spec.template.spec)


DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800


def default_service(service: service_pb2.Service) -> None:
    spec = service.spec
    spec.type = spec.type or "ClusterIP"
    spec.session_affinity = spec.session_affinity or "None"
    if spec.session_affinity == "ClientIP" and not spec.session_affinity_config.client_ip.HasField(
        "timeout_seconds"
    ):
        spec.session_affinity_config.client_ip.timeout_seconds = DEFAULT_AFFINITY_TIMEOUT_SECONDS
    spec.internal_traffic_policy = spec.internal_traffic_policy or "Cluster"
    if spec.type == "NodePort":
        spec.external_traffic_policy = spec.external_traffic_policy or "Cluster"
    else:
        spec.ClearField("external_traffic_policy")
    if not spec.ip_families:
        spec.ip_families.append("IPv4")
    spec.ip_family_policy = spec.ip_family_policy or "SingleStack"
    for port in spec.ports:
        port.protocol = port.protocol or "TCP"
        port.target_port = port.target_port or str(port.port)
