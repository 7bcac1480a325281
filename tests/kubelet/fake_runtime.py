"""An in-memory Runtime for the kubelet's unit tests (never used outside tests).

It keeps the invariants the kubelet relies on from the real one: deterministic names (creating
the same container instance or sandbox attempt twice raises NameInUse), removing a sandbox removes
its containers, times from an injected clock. Tests drive the world with `crash()` and inspect
`calls` to see what the kubelet did.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator, Callable, Sequence

from agents.kubelet.runtime import (
    ContainerConfig,
    ContainerInfo,
    ContainerState,
    ExecResult,
    ImagePullFailed,
    NameInUse,
    ObjectMissing,
    RuntimePods,
    SandboxConfig,
    SandboxInfo,
    StartFailed,
)

IMAGE_SIZE = 5 * 2**20  # every fake image's size


class FakeClock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeRuntime:
    def __init__(self, clock: Callable[[], float], images: Sequence[str] = ("busybox:1.36",)):
        self.clock = clock
        self.images = set(images)
        self.pull_errors: dict[str, str] = {}  # image -> why pulling it fails
        self.start_errors: dict[str, str] = {}  # container name -> why its start fails
        self.exec_codes: dict[str, int] = {}  # container name -> exit code of every exec
        self.sandboxes: dict[str, SandboxInfo] = {}
        self.containers: dict[str, ContainerInfo] = {}
        self.logs_of: dict[str, list[bytes]] = {}
        self.calls: list[tuple[str, ...]] = []
        self.pulls: list[str] = []
        self._ids = itertools.count(1)
        self._names: dict[str, str] = {}  # object name -> id

    # -- test helpers ------------------------------------------------------------------------

    def running(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        return [
            c
            for c in self.containers.values()
            if c.state is ContainerState.RUNNING and (pod_uid is None or c.pod_uid == pod_uid)
        ]

    def instances(self, pod_uid: str, name: str) -> list[ContainerInfo]:
        found = [c for c in self.containers.values() if c.pod_uid == pod_uid and c.name == name]
        return sorted(found, key=lambda c: c.restart_count)

    def crash(self, container_id: str, exit_code: int = 1) -> None:
        self._set(container_id, state=ContainerState.EXITED, exit_code=exit_code, finished_at=self.clock())

    def kill_sandbox(self, sandbox_id: str) -> None:
        self.sandboxes[sandbox_id] = dataclasses.replace(self.sandboxes[sandbox_id], ready=False)

    def _set(self, container_id: str, **changes: object) -> None:
        self.containers[container_id] = dataclasses.replace(self.containers[container_id], **changes)  # type: ignore[arg-type]

    def _new_id(self, name: str) -> str:
        if name in self._names:
            raise NameInUse(name)
        object_id = f"id{next(self._ids):04d}"
        self._names[name] = object_id
        return object_id

    # -- Runtime -----------------------------------------------------------------------------

    async def version(self) -> str:
        return "fake://1.0"

    async def image_present(self, image: str) -> bool:
        return image in self.images

    async def list_images(self) -> list[tuple[list[str], int]]:
        return [([image], IMAGE_SIZE) for image in sorted(self.images)]

    async def pull_image(self, image: str) -> None:
        self.pulls.append(image)
        if image in self.pull_errors:
            raise ImagePullFailed(self.pull_errors[image])
        self.images.add(image)

    async def run_sandbox(self, config: SandboxConfig) -> SandboxInfo:
        sandbox_id = self._new_id(f"sandbox/{config.pod.uid}/{config.attempt}")
        self.calls.append(("run_sandbox", config.pod.uid, str(config.attempt)))
        info = SandboxInfo(
            sandbox_id,
            config.pod.uid,
            ready=True,
            attempt=config.attempt,
            ip=f"10.88.0.{len(self.sandboxes) + 2}",
            created_at=self.clock(),
        )
        self.sandboxes[sandbox_id] = info
        return info

    async def remove_sandbox(self, sandbox_id: str, grace_seconds: int) -> None:
        self.calls.append(("remove_sandbox", sandbox_id, str(grace_seconds)))
        self.sandboxes.pop(sandbox_id, None)
        for container in [c for c in self.containers.values() if c.sandbox_id == sandbox_id]:
            await self.remove_container(container.id)
        self._names = {k: v for k, v in self._names.items() if v != sandbox_id}

    async def list_pods(self, pod_uid: str | None = None) -> RuntimePods:
        return RuntimePods(
            tuple(s for s in self.sandboxes.values() if pod_uid in (None, s.pod_uid)),
            tuple(c for c in self.containers.values() if pod_uid in (None, c.pod_uid)),
        )

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        if sandbox_id not in self.sandboxes:
            raise ObjectMissing(sandbox_id)
        pod = config.pod
        container_id = self._new_id(f"{pod.uid}/{config.name}/{config.restart_count}")
        self.calls.append(("create", config.name, str(config.restart_count)))
        self.containers[container_id] = ContainerInfo(
            id=container_id,
            pod_uid=pod.uid,
            sandbox_id=sandbox_id,
            name=config.name,
            restart_count=config.restart_count,
            state=ContainerState.CREATED,
            image=config.image,
            image_id=f"sha256:{config.image}",
            created_at=self.clock(),
        )
        return container_id

    async def start_container(self, container_id: str) -> None:
        container = self.containers[container_id]
        self.calls.append(("start", container.name, str(container.restart_count)))
        if container.name in self.start_errors:
            raise StartFailed(self.start_errors[container.name])
        self._set(container_id, state=ContainerState.RUNNING, started_at=self.clock())

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        container = self.containers.get(container_id)
        if container is None:
            raise ObjectMissing(container_id)
        self.calls.append(("stop", container.name, str(grace_seconds)))
        if container.state is ContainerState.RUNNING:
            self._set(container_id, state=ContainerState.EXITED, exit_code=137, finished_at=self.clock())

    async def remove_container(self, container_id: str) -> None:
        container = self.containers.pop(container_id, None)
        if container is not None:
            self.calls.append(("remove", container.name, str(container.restart_count)))
            self._names = {k: v for k, v in self._names.items() if v != container_id}

    async def exec(self, container_id: str, command: Sequence[str], timeout: float) -> ExecResult:
        return ExecResult(self.exec_codes.get(self.containers[container_id].name, 0), b"")

    async def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> AsyncIterator[bytes]:
        if container_id not in self.containers:
            raise ObjectMissing(container_id)
        lines = self.logs_of.get(container_id, [])
        for line in lines[-tail:] if tail else lines:
            yield line
