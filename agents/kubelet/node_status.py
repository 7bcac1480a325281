"""This node in the API: registration, then a Ready heartbeat every ~10 s.

Registration creates the Node (labels kubernetes.io/hostname and kubernetes.io/os; capacity =
allocatable = the host's cores, MemTotal as "<n>Ki", 110 pods; addresses InternalIP and Hostname;
nodeInfo; the kubelet's gRPC port in daemonEndpoints) and its status. When the Node exists (a
restarted kubelet), its labels are merged and its status replaced instead of failing.

The heartbeat writes the status unconditionally (this kubelet is the only writer of its node's
status) with the Ready condition: True while the runtime relists (PLEG healthy), False with a
reason otherwise, and the node's largest images (for ImageLocality). lastTransitionTime changes
only when the condition's status does. Failures are
logged and retried at the next beat; registration is retried until it succeeds, and repeated when
the Node was deleted (the kubelet owns its Node's existence, as Kubernetes' does).
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from agents.kubelet.runtime import RuntimeFailure
from cluster.api.conditions import set_condition
from cluster.api.resources import NODES
from cluster.client.api import ApiClient
from cluster.errors import AlreadyExists, ApiError, NotFound
from raykube.v1 import meta_pb2, node_pb2

log = logging.getLogger(__name__)

MAX_PODS = "110"
MAX_IMAGES = 50
_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}


@dataclass(frozen=True)
class HostFacts:
    cpus: int
    memory_kib: int
    hostname: str
    ip: str
    machine_id: str = ""
    boot_id: str = ""
    system_uuid: str = ""
    kernel: str = ""
    os_image: str = ""
    architecture: str = ""


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def mem_total_kib(meminfo: str) -> int:
    for line in meminfo.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])  # the kernel writes "kB", meaning KiB
    raise ValueError("no MemTotal in /proc/meminfo")


def os_image(os_release: str) -> str:
    for line in os_release.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip('"')
    return "Linux"


def primary_ipv4() -> str:
    """The source address of the default route (a UDP connect sends no packet); loopback without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only consults the routing table
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def host_facts(ip: str | None = None) -> HostFacts:
    return HostFacts(
        cpus=os.cpu_count() or 1,
        memory_kib=mem_total_kib(_read("/proc/meminfo")),
        hostname=socket.gethostname(),
        ip=ip or primary_ipv4(),
        machine_id=_read("/etc/machine-id"),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid"),
        kernel=platform.release(),
        os_image=os_image(_read("/etc/os-release")),
        architecture=_ARCH.get(platform.machine(), platform.machine()),
    )


def kubelet_version() -> str:
    try:
        return f"v{metadata.version('raykube')}"
    except metadata.PackageNotFoundError:
        return "v0.0.0"


def node_object(name: str, facts: HostFacts, *, kubelet_port: int, runtime_version: str) -> node_pb2.Node:
    """The Node as this kubelet registers it, without conditions (pure)."""
    capacity = {"cpu": str(facts.cpus), "memory": f"{facts.memory_kib}Ki", "pods": MAX_PODS}
    return node_pb2.Node(
        api_version="v1",
        kind="Node",
        metadata=meta_pb2.ObjectMeta(
            name=name, labels={"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        ),
        status=node_pb2.NodeStatus(
            capacity=capacity,
            allocatable=capacity,
            addresses=[
                node_pb2.NodeAddress(type="InternalIP", address=facts.ip),
                node_pb2.NodeAddress(type="Hostname", address=facts.hostname),
            ],
            daemon_endpoints=node_pb2.NodeDaemonEndpoints(
                kubelet_endpoint=node_pb2.DaemonEndpoint(port=kubelet_port)
            ),
            node_info=node_pb2.NodeSystemInfo(
                machine_id=facts.machine_id,
                boot_id=facts.boot_id,
                system_uuid=facts.system_uuid,
                kernel_version=facts.kernel,
                os_image=facts.os_image,
                container_runtime_version=runtime_version,
                kubelet_version=kubelet_version(),
                operating_system="linux",
                architecture=facts.architecture,
            ),
        ),
    )


def ready_condition(
    previous: node_pb2.NodeCondition | None, ready: bool, now: float
) -> node_pb2.NodeCondition:
    """This beat's Ready condition: its transition time carries over from `previous` while unchanged."""
    status = node_pb2.NodeStatus(conditions=[previous] if previous is not None else [])
    at = Timestamp(seconds=int(now))
    condition = set_condition(
        status.conditions,
        "Ready",
        "True" if ready else "False",
        at,
        reason="KubeletReady" if ready else "KubeletNotReady",
        message="kubelet is posting ready status" if ready else "container runtime is not responding",
    )
    condition.last_heartbeat_time.CopyFrom(at)
    return condition


class NodeStatusReporter:
    def __init__(
        self,
        client: ApiClient,
        node: node_pb2.Node,
        *,
        healthy: Callable[[], bool],
        images: Callable[[], Awaitable[list[tuple[list[str], int]]]] | None = None,
        period: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self._images = images
        self._client = client
        self._node = node
        self._healthy = healthy
        self._period = period
        self._clock = clock
        self._ready: node_pb2.NodeCondition | None = None
        self.registered = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                if self.registered.is_set():
                    await self.heartbeat()
                else:
                    await self.register()
            except NotFound:
                log.warning("node %s is gone from the API; registering it again", self._node.metadata.name)
                self.registered.clear()
                continue
            except ApiError as err:
                log.warning("node %s status: %s", self._node.metadata.name, err)
            await asyncio.sleep(self._period)

    async def register(self) -> None:
        try:
            await self._client.create(self._node)
        except AlreadyExists:
            existing = await self._client.get(NODES, "", self._node.metadata.name)
            assert isinstance(existing, node_pb2.Node)
            existing.metadata.labels.update(self._node.metadata.labels)
            await self._client.update(existing)
        await self.heartbeat()
        self.registered.set()

    async def _image_list(self) -> list[node_pb2.ContainerImage]:
        """The node's largest images (at most MAX_IMAGES, as the kubelet's nodeStatusMaxImages),
        for the scheduler's ImageLocality; none while the runtime does not answer."""
        if self._images is None:
            return []
        try:
            images = await self._images()
        except RuntimeFailure as err:
            log.warning("node %s: images not listed: %s", self._node.metadata.name, err)
            return []
        largest = sorted(images, key=lambda image: -image[1])[:MAX_IMAGES]
        return [node_pb2.ContainerImage(names=names, size_bytes=size) for names, size in largest]

    async def heartbeat(self) -> None:
        node = node_pb2.Node()
        node.CopyFrom(self._node)
        condition = ready_condition(self._ready, self._healthy(), self._clock())
        node.status.conditions.append(condition)
        node.status.images.extend(await self._image_list())
        await self._client.update_status(node)  # no resourceVersion: unconditional
        self._ready = condition
