"""The container runtime as the kubelet sees it: a small Protocol, its value types and its errors.

The kubelet drives sandboxes (one per Pod: a shared network namespace with the pod IP) and
containers inside them, in CRI's vocabulary. `podman.py` implements this against a Podman API
service; unit tests use a fake. Nothing above this seam knows about Podman.

Invariants every implementation keeps:
- A runtime instance serves one node. Everything it creates is labelled with that node, the pod's
  uid/namespace/name and, for containers, the Kubernetes container name and restart count, and it
  lists only what carries its node's label. The kubelet's whole view of "what runs" is rebuilt
  from these labels, so a restarted kubelet adopts its containers instead of starting duplicates.
- Names are deterministic (pod uid + container name + restart count; pod uid + sandbox attempt),
  so creating the same instance twice fails with `NameInUse` instead of producing a duplicate.
- Every method is a coroutine that never blocks the event loop; failures are `RuntimeFailure`s.

Errors:
    RuntimeFailure          the runtime could not do it (base)
    ├── RuntimeUnavailable  the runtime service does not answer
    ├── ObjectMissing       no such container or sandbox
    ├── NameInUse           an object with that name exists already
    ├── ImagePullFailed     the registry refused or could not be reached
    └── StartFailed         the container exists but its process could not be started
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

# Labels on every sandbox and container the kubelet creates.
LABEL_POD_UID = "io.raykube.pod-uid"
LABEL_POD_NAMESPACE = "io.raykube.pod-namespace"
LABEL_POD_NAME = "io.raykube.pod-name"
LABEL_NODE = "io.raykube.node"
LABEL_CONTAINER_NAME = "io.raykube.container-name"
LABEL_RESTART_COUNT = "io.raykube.restart-count"
LABEL_SANDBOX_ATTEMPT = "io.raykube.sandbox-attempt"


class RuntimeFailure(Exception):
    """The runtime could not do what was asked."""


class RuntimeUnavailable(RuntimeFailure):
    """The runtime service cannot be reached."""


class ObjectMissing(RuntimeFailure):
    """No container or sandbox with that id."""


class NameInUse(RuntimeFailure):
    """An object with that name exists already (someone created this instance before us)."""


class ImagePullFailed(RuntimeFailure):
    """The image could not be pulled."""


class StartFailed(RuntimeFailure):
    """The container was created but its process did not start (e.g. executable not found)."""


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PodRef:
    """Which Pod an object belongs to."""

    uid: str
    namespace: str
    name: str


@dataclass(frozen=True)
class PortMapping:
    container_port: int
    host_port: int
    protocol: str = "tcp"
    host_ip: str = ""


@dataclass(frozen=True)
class SandboxConfig:
    pod: PodRef
    hostname: str
    attempt: int = 0  # a pod whose sandbox died gets a new one, next to the old
    port_mappings: tuple[PortMapping, ...] = ()
    dns: DnsConfig | None = None  # None: the runtime's default resolver configuration


@dataclass(frozen=True)
class DnsConfig:
    """A pod's /etc/resolv.conf: the cluster's DNS, its search path, ndots (Kubernetes' ClusterFirst)."""

    servers: tuple[str, ...]
    searches: tuple[str, ...]
    options: tuple[str, ...] = ("ndots:5",)


@dataclass(frozen=True)
class Mount:
    """A host directory bind-mounted into a container."""

    source: str
    target: str
    read_only: bool = True


@dataclass(frozen=True)
class ContainerConfig:
    """One container instance, with Kubernetes' meaning of command (entrypoint) and args (cmd)."""

    pod: PodRef
    name: str
    restart_count: int
    image: str
    command: tuple[str, ...] = ()  # empty: the image's entrypoint
    args: tuple[str, ...] = ()  # empty: the image's cmd (unless command is set)
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    memory_limit_bytes: int | None = None
    cpu_limit_millicores: int | None = None
    stop_timeout: int = 30
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class SandboxInfo:
    id: str
    pod_uid: str
    ready: bool  # its network namespace holder (infra) is running
    attempt: int = 0
    ip: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class ContainerInfo:
    """One container instance as the runtime reports it. Times are epoch seconds; 0 means never."""

    id: str
    pod_uid: str
    sandbox_id: str
    name: str  # the Kubernetes container name
    restart_count: int
    state: ContainerState
    image: str = ""
    image_id: str = ""
    exit_code: int = 0
    reason: str = ""  # why it terminated when the runtime knows better than the exit code
    message: str = ""
    created_at: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuntimePods:
    sandboxes: tuple[SandboxInfo, ...] = ()
    containers: tuple[ContainerInfo, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: bytes


class Runtime(Protocol):
    """What the kubelet needs from a container runtime; scoped to one node."""

    async def version(self) -> str: ...

    async def image_present(self, image: str) -> bool: ...

    async def pull_image(self, image: str) -> None: ...

    async def list_images(self) -> list[tuple[list[str], int]]:
        """Every image the runtime holds: (its names, its size in bytes)."""
        ...

    async def run_sandbox(self, config: SandboxConfig) -> SandboxInfo:
        """Create and start the sandbox; its IP is known when this returns."""
        ...

    async def remove_sandbox(self, sandbox_id: str, grace_seconds: int) -> None:
        """Stop (SIGTERM, then SIGKILL after the grace period) and remove it with its containers."""
        ...

    async def list_pods(self, pod_uid: str | None = None) -> RuntimePods:
        """This node's sandboxes and containers (of one pod, if given), in one consistent listing."""
        ...

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str: ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM (the image's stop signal), then SIGKILL once the grace period is over."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def exec(self, container_id: str, command: Sequence[str], timeout: float) -> ExecResult: ...

    def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> AsyncIterator[bytes]:
        """The container's output (stdout and stderr, interleaved) as it arrives."""
        ...
