"""From a Pod to what the runtime is asked to create: sandbox and container configs (pure).

Kubernetes' meanings are kept: `command` replaces the image's entrypoint, `args` its cmd; env in
the order given (no $(VAR) expansion yet); limits, not requests, bound the container (memory in
bytes, cpu in millicores); hostPorts of every container are published by the sandbox. The grace
period is the pod's terminationGracePeriodSeconds (default 30 s), or the shorter one a deletion set.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.kubelet.runtime import ContainerConfig, DnsConfig, Mount, PodRef, PortMapping, SandboxConfig
from cluster.api import quantity
from raykube.v1 import pod_pb2

DEFAULT_GRACE_SECONDS = 30


def pod_ref(pod: pod_pb2.Pod) -> PodRef:
    return PodRef(pod.metadata.uid, pod.metadata.namespace, pod.metadata.name)


def grace_seconds(pod: pod_pb2.Pod) -> int:
    """How long containers get between SIGTERM and SIGKILL."""
    if pod.metadata.HasField("deletion_grace_period_seconds"):
        return pod.metadata.deletion_grace_period_seconds
    if pod.spec.HasField("termination_grace_period_seconds"):
        return pod.spec.termination_grace_period_seconds
    return DEFAULT_GRACE_SECONDS


@dataclass(frozen=True)
class ClusterDns:
    """Where the cluster's names are answered, for the pods' resolvers (kubelet --cluster-dns)."""

    server: str  # the kube-dns ClusterIP
    domain: str = "cluster.local"

    def for_pod(self, pod: pod_pb2.Pod) -> DnsConfig:
        namespace, domain = pod.metadata.namespace, self.domain
        return DnsConfig((self.server,), (f"{namespace}.svc.{domain}", f"svc.{domain}", domain))


def sandbox_config(pod: pod_pb2.Pod, attempt: int, dns: ClusterDns | None = None) -> SandboxConfig:
    ports = tuple(
        PortMapping(p.container_port, p.host_port, (p.protocol or "TCP").lower(), p.host_ip)
        for c in pod.spec.containers
        for p in c.ports
        if p.host_port
    )
    resolv = dns.for_pod(pod) if dns is not None and not pod.spec.host_network else None
    return SandboxConfig(pod_ref(pod), pod.spec.hostname or pod.metadata.name, attempt, ports, resolv)


def container_config(
    pod: pod_pb2.Pod, spec: pod_pb2.Container, restart_count: int, mounts: tuple[Mount, ...] = ()
) -> ContainerConfig:
    limits = spec.resources.limits
    return ContainerConfig(
        pod=pod_ref(pod),
        name=spec.name,
        restart_count=restart_count,
        image=spec.image,
        command=tuple(spec.command),
        args=tuple(spec.args),
        env=tuple((e.name, e.value) for e in spec.env),
        working_dir=spec.working_dir,
        memory_limit_bytes=quantity.value(limits["memory"]) if "memory" in limits else None,
        cpu_limit_millicores=quantity.milli_value(limits["cpu"]) if "cpu" in limits else None,
        stop_timeout=grace_seconds(pod),
        mounts=mounts,
    )
