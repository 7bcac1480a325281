"""Node facts and the Ready condition (the registration itself is in test_kubelet.py)."""

from __future__ import annotations

import asyncio

from agents.kubelet.node_status import (
    HostFacts,
    NodeStatusReporter,
    mem_total_kib,
    node_object,
    os_image,
    ready_condition,
)
from agents.kubelet.runtime import RuntimeUnavailable
from cluster.api.conditions import is_true
from raykube.v1 import node_pb2

MEMINFO = "MemTotal:       24572156 kB\nMemFree:        1000 kB\n"


def test_host_facts_parsing() -> None:
    assert mem_total_kib(MEMINFO) == 24572156
    assert os_image('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n') == (
        "Debian GNU/Linux 12 (bookworm)"
    )


def test_node_object_capacity_addresses_and_endpoint() -> None:
    facts = HostFacts(cpus=2, memory_kib=24572156, hostname="lab1", ip="10.0.0.5", architecture="amd64")
    node = node_object("lab1", facts, kubelet_port=10250, runtime_version="podman://4.3.1")
    assert dict(node.status.capacity) == {"cpu": "2", "memory": "24572156Ki", "pods": "110"}
    assert dict(node.status.allocatable) == dict(node.status.capacity)
    assert [(a.type, a.address) for a in node.status.addresses] == [
        ("InternalIP", "10.0.0.5"),
        ("Hostname", "lab1"),
    ]
    assert node.status.daemon_endpoints.kubelet_endpoint.port == 10250
    info = node.status.node_info
    assert (info.operating_system, info.architecture, info.container_runtime_version) == (
        "linux",
        "amd64",
        "podman://4.3.1",
    )
    assert info.kubelet_version.startswith("v")


def test_ready_condition_keeps_its_transition_time_while_unchanged() -> None:
    first = ready_condition(None, True, 100)
    again = ready_condition(first, True, 110)
    assert (again.last_transition_time.seconds, again.last_heartbeat_time.seconds) == (100, 110)
    down = ready_condition(again, False, 120)
    assert (down.status, down.reason, down.last_transition_time.seconds) == ("False", "KubeletNotReady", 120)


def test_the_heartbeat_reports_the_fifty_largest_images_and_none_when_the_runtime_fails() -> None:
    written: list[node_pb2.Node] = []

    class Api:  # the part of ApiClient the heartbeat uses
        async def update_status(self, node: node_pb2.Node) -> node_pb2.Node:
            written.append(node)
            return node

    images = [([f"img-{i}:1"], i * 1000) for i in range(60)]
    failing = False

    async def list_images() -> list[tuple[list[str], int]]:
        if failing:
            raise RuntimeUnavailable("podman is not answering")
        return images

    node = node_object(
        "n1",
        HostFacts(cpus=2, memory_kib=1024, os_image="Debian", kernel="6.1", ip="10.0.0.1", hostname="n1"),
        kubelet_port=10250,
        runtime_version="fake://1",
    )
    reporter = NodeStatusReporter(Api(), node, healthy=lambda: True, images=list_images)  # type: ignore[arg-type]
    asyncio.run(reporter.heartbeat())
    reported = written[-1].status.images
    assert len(reported) == 50 and reported[0].names == ["img-59:1"] and reported[-1].size_bytes == 10_000
    failing = True
    asyncio.run(reporter.heartbeat())
    assert not written[-1].status.images and is_true(written[-1].status.conditions, "Ready")
