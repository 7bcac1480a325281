"""From Pod spec to runtime requests: Kubernetes' meanings mapped onto Podman's (pure functions)."""

from __future__ import annotations

import pytest

from agents.kubelet.images import pull_policy
from agents.kubelet.podman import container_name, cpu_quota, create_kwargs, registry_is_loopback
from agents.kubelet.runtime import DnsConfig
from agents.kubelet.runtime_config import ClusterDns, container_config, grace_seconds, sandbox_config
from raykube.v1 import pod_pb2
from tests.kubelet.pods import container, make_pod, terminating


def test_container_config_and_podman_arguments() -> None:
    spec = container(
        "app",
        command=["/bin/app"],
        args=["--port", "8080"],
        env=[pod_pb2.EnvVar(name="A", value="1"), pod_pb2.EnvVar(name="B", value="2")],
        working_dir="/srv",
    )
    spec.resources.limits.update({"memory": "64Mi", "cpu": "250m"})
    pod = make_pod(containers=[spec], grace=5)
    config = container_config(pod, spec, 3)
    assert (config.command, config.args, config.env) == (
        ("/bin/app",),
        ("--port", "8080"),
        (("A", "1"), ("B", "2")),
    )
    assert (config.memory_limit_bytes, config.cpu_limit_millicores, config.stop_timeout) == (64 << 20, 250, 5)
    kwargs = create_kwargs(config, "sandbox-id", "node-a")
    assert kwargs["entrypoint"] == ["/bin/app"]  # command replaces the image's entrypoint
    assert (kwargs["cpu_period"], kwargs["cpu_quota"], kwargs["mem_limit"]) == (100_000, 25_000, 64 << 20)
    assert kwargs["name"] == container_name(config) == "rk_app_default_web_uid-web_3"
    assert kwargs["labels"]["io.raykube.restart-count"] == "3"
    assert kwargs["labels"]["io.raykube.node"] == "node-a"


def test_args_alone_keep_the_image_entrypoint() -> None:
    spec = container(args=["echo", "hi"])
    kwargs = create_kwargs(container_config(make_pod(containers=[spec]), spec, 0), "s", "n")
    assert "entrypoint" not in kwargs and "mem_limit" not in kwargs and "cpu_quota" not in kwargs
    assert cpu_quota(1) == 1_000  # the kernel's minimum


def test_host_ports_and_hostname() -> None:
    spec = container(
        ports=[
            pod_pb2.ContainerPort(container_port=80, host_port=8080),
            pod_pb2.ContainerPort(container_port=53, host_port=5353, protocol="UDP", host_ip="127.0.0.1"),
            pod_pb2.ContainerPort(container_port=9090),  # not published
        ]
    )
    pod = make_pod(containers=[spec])
    config = sandbox_config(pod, 2)
    assert (config.hostname, config.attempt) == ("web", 2)
    assert [(p.container_port, p.host_port, p.protocol, p.host_ip) for p in config.port_mappings] == [
        (80, 8080, "tcp", ""),
        (53, 5353, "udp", "127.0.0.1"),
    ]


def test_grace_period() -> None:
    assert grace_seconds(make_pod()) == 30
    assert grace_seconds(make_pod(grace=10)) == 10
    assert grace_seconds(terminating(make_pod(grace=10), grace=3)) == 3


@pytest.mark.parametrize(
    ("image", "loopback"),
    [
        ("127.0.0.1:5000/team/app:1", True),
        ("localhost:5000/app", True),
        ("localhost/app:1", True),
        ("[::1]:5000/app", True),
        ("registry.example.com/app:1", False),
        ("10.0.0.5:5000/app", False),
        ("busybox:1.36", False),
        ("library/busybox", False),
    ],
)
def test_insecure_pulls_only_from_loopback_registries(image: str, loopback: bool) -> None:
    assert registry_is_loopback(image) is loopback


@pytest.mark.parametrize(
    ("image", "explicit", "policy"),
    [
        ("busybox", "", "Always"),
        ("busybox:latest", "", "Always"),
        ("localhost:5000/app:1", "", "IfNotPresent"),
        ("app@sha256:abc", "", "IfNotPresent"),
        ("busybox:1.36", "Never", "Never"),
    ],
)
def test_default_pull_policy(image: str, explicit: str, policy: str) -> None:
    assert pull_policy(container(image=image, image_pull_policy=explicit)) == policy


def test_pods_resolve_through_the_cluster_dns_with_their_namespace_first() -> None:
    dns = ClusterDns("10.96.0.10", "cluster.local")
    pod = make_pod()
    pod.metadata.namespace = "shop"
    assert sandbox_config(pod, 0, dns).dns == DnsConfig(
        ("10.96.0.10",), ("shop.svc.cluster.local", "svc.cluster.local", "cluster.local"), ("ndots:5",)
    )
    assert sandbox_config(pod, 0).dns is None  # no cluster DNS configured: the runtime's default
    pod.spec.host_network = True
    assert sandbox_config(pod, 0, dns).dns is None  # the host's own resolver, as dnsPolicy Default
