"""Session fixtures for the kubelet's real-Podman tests.

One Podman API service per test session (a child process on a socket in a tmp dir, stopped by its
PID at the end) and one locally built busybox image (removed at the end). Each test gets a
PodmanRuntime for a node name of its own, and everything labelled with that node is removed when
the test ends, so tests neither see nor touch anyone else's containers.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator

import pytest

from agents.kubelet.podman import PodmanRuntime
from agents.kubelet.podman_service import PodmanService
from tests.kubelet.images import build_busybox_image, remove_image


@pytest.fixture(scope="session")
def podman_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    service = PodmanService(tmp_path_factory.mktemp("podman") / "podman.sock")
    asyncio.run(service.start())  # on the main thread: the service lives as long as the session
    yield service
    asyncio.run(service.stop())


@pytest.fixture(scope="session")
def busybox_image(podman_service: PodmanService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ref = f"localhost/raykube-kubelet-test:{uuid.uuid4().hex[:8]}"
    build_busybox_image(tmp_path_factory.mktemp("image"), ref, podman_service.env)
    yield ref
    remove_image(ref, podman_service.env)


@pytest.fixture
def node_name() -> str:
    return f"kt-{uuid.uuid4().hex[:8]}"


async def remove_node_objects(runtime: PodmanRuntime) -> None:
    """Remove every sandbox and container labelled with the runtime's node."""
    for sandbox in (await runtime.list_pods()).sandboxes:
        await runtime.remove_sandbox(sandbox.id, 0)
    for container in (await runtime.list_pods()).containers:
        await runtime.remove_container(container.id)


@pytest.fixture
def podman_node(podman_service: PodmanService, node_name: str) -> Iterator[str]:
    """The socket to use for a node of this test's own; its objects are removed afterwards."""
    yield str(podman_service.socket_path)

    async def cleanup() -> None:
        runtime = PodmanRuntime(str(podman_service.socket_path), node_name)
        try:
            await remove_node_objects(runtime)
        finally:
            await runtime.close()

    asyncio.run(cleanup())
