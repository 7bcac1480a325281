"""PodmanRuntime and PodmanService against the real Podman service on this machine.

Every test runs as a node of its own (see conftest.py): whatever it creates carries that node's
label and is removed afterwards. Network traffic goes only to pod IPs these tests created.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from podman import PodmanClient

from agents.kubelet.images import ImagePuller
from agents.kubelet.podman import PodmanRuntime
from agents.kubelet.podman_service import PodmanService
from agents.kubelet.runtime import (
    LABEL_CONTAINER_NAME,
    LABEL_NODE,
    LABEL_POD_NAME,
    LABEL_POD_NAMESPACE,
    LABEL_POD_UID,
    LABEL_RESTART_COUNT,
    ContainerConfig,
    ContainerState,
    DnsConfig,
    ImagePullFailed,
    ObjectMissing,
    PodRef,
    PortMapping,
    RuntimePods,
    SandboxConfig,
    StartFailed,
)
from cluster.bootstrap.ray_node import free_port
from tests.kubelet.pods import container
from tests.kubelet.waiting import eventually, http_get

POD = PodRef("0d6c6b1e-test", "default", "web")


def run_on(socket: str, node: str, scenario: Callable[[PodmanRuntime], Awaitable[None]]) -> None:
    async def main() -> None:
        runtime = PodmanRuntime(socket, node)
        try:
            await scenario(runtime)
        finally:
            await runtime.close()

    asyncio.run(main())


async def run_in_new_sandbox(runtime: PodmanRuntime, *configs: ContainerConfig) -> list[str]:
    """A sandbox for POD with `configs` created and started in it; their ids."""
    sandbox = await runtime.run_sandbox(SandboxConfig(POD, "web"))
    ids = [await runtime.create_container(sandbox.id, config) for config in configs]
    for container_id in ids:
        await runtime.start_container(container_id)
    return ids


def shell(image: str, script: str, rc: int = 0, **fields: object) -> ContainerConfig:
    return ContainerConfig(POD, "c", rc, image, command=("sh", "-c", script), stop_timeout=2, **fields)  # type: ignore[arg-type]


def test_sandbox_and_container_run_with_ip_labels_and_limits(
    podman_node: str, node_name: str, busybox_image: str
) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        sandbox = await runtime.run_sandbox(SandboxConfig(POD, "web"))
        assert sandbox.ready and sandbox.ip.startswith("10.88.")
        config = ContainerConfig(
            POD,
            "web",
            0,
            busybox_image,
            command=("sh", "-c"),
            args=('echo "$GREETING from $(pwd)" > /www/index.html; exec httpd -f -p 8080 -h /www',),
            env=(("GREETING", "hello"),),
            working_dir="/tmp",
            memory_limit_bytes=64 * 1024 * 1024,
            cpu_limit_millicores=250,
        )
        container_id = await runtime.create_container(sandbox.id, config)
        await runtime.start_container(container_id)

        async def answers() -> bool:
            try:
                return await http_get(sandbox.ip, 8080) == (200, b"hello from /tmp\n")
            except OSError:
                return False

        await eventually(answers)
        [listed] = (await runtime.list_pods(POD.uid)).containers
        assert (listed.id, listed.state, listed.restart_count, listed.sandbox_id) == (
            container_id,
            ContainerState.RUNNING,
            0,
            sandbox.id,
        )
        assert listed.labels[LABEL_NODE] == node_name
        assert {k: listed.labels[k] for k in (LABEL_POD_UID, LABEL_POD_NAMESPACE, LABEL_POD_NAME)} == {
            LABEL_POD_UID: POD.uid,
            LABEL_POD_NAMESPACE: "default",
            LABEL_POD_NAME: "web",
        }
        assert (listed.labels[LABEL_CONTAINER_NAME], listed.labels[LABEL_RESTART_COUNT]) == ("web", "0")
        assert listed.image_id.startswith("sha256:") and listed.started_at > 0
        [listed_sandbox] = (await runtime.list_pods()).sandboxes
        assert (listed_sandbox.id, listed_sandbox.ip, listed_sandbox.ready) == (sandbox.id, sandbox.ip, True)
        with PodmanClient(base_url=f"unix://{podman_node}") as client:
            limits = client.containers.get(container_id).attrs["HostConfig"]
        assert (limits["Memory"], limits["CpuPeriod"], limits["CpuQuota"]) == (
            64 * 1024 * 1024,
            100_000,
            25_000,
        )
        assert (await runtime.exec(container_id, ["sh", "-c", "exit 3"], 5)).exit_code == 3
        assert await runtime.list_pods("another-pod") == RuntimePods()

    run_on(podman_node, node_name, scenario)


def test_host_port_is_published_on_the_sandbox(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        port = free_port()
        sandbox = await runtime.run_sandbox(
            SandboxConfig(POD, "web", 0, (PortMapping(8080, port, "tcp", "127.0.0.1"),))
        )
        script = "echo published > /www/index.html; exec httpd -f -p 8080 -h /www"
        container_id = await runtime.create_container(sandbox.id, shell(busybox_image, script))
        await runtime.start_container(container_id)

        async def answers() -> bool:
            try:
                return await http_get("127.0.0.1", port) == (200, b"published\n")
            except OSError:
                return False

        await eventually(answers)

    run_on(podman_node, node_name, scenario)


def test_pods_resolve_with_the_cluster_dns(podman_node: str, node_name: str, busybox_image: str) -> None:
    dns = DnsConfig(("10.96.0.10",), ("default.svc.cluster.local", "svc.cluster.local", "cluster.local"))

    async def scenario(runtime: PodmanRuntime) -> None:
        sandbox = await runtime.run_sandbox(SandboxConfig(POD, "web", 0, (), dns))
        container_id = await runtime.create_container(sandbox.id, shell(busybox_image, "sleep 30"))
        await runtime.start_container(container_id)
        resolv = (await runtime.exec(container_id, ["cat", "/etc/resolv.conf"], 5)).output.decode()
        lines = [line.split() for line in resolv.splitlines()]
        assert [line[1:] for line in lines if line[:1] == ["nameserver"]] == [["10.96.0.10"]]
        assert ["search", *dns.searches] in lines
        assert ["options", "ndots:5"] in lines

    run_on(podman_node, node_name, scenario)


def test_logs_tail_follow_and_exit(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        script = "echo one; echo two >&2; sleep 1; echo three; exit 4"
        [container_id] = await run_in_new_sandbox(runtime, shell(busybox_image, script))
        followed = b"".join([chunk async for chunk in runtime.logs(container_id, follow=True)])
        assert followed == b"one\ntwo\nthree\n"
        [done] = (await runtime.list_pods(POD.uid)).containers
        assert (done.state, done.exit_code) == (ContainerState.EXITED, 4)
        assert 0.8 < done.finished_at - done.started_at < 5
        assert [chunk async for chunk in runtime.logs(container_id, tail=1)] == [b"three\n"]

    run_on(podman_node, node_name, scenario)


def test_a_followed_stream_can_be_abandoned(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        [container_id] = await run_in_new_sandbox(runtime, shell(busybox_image, "echo hi; exec sleep 1000"))
        first = asyncio.Event()

        async def follow() -> None:
            async for _ in runtime.logs(container_id, follow=True):
                first.set()

        reading = asyncio.create_task(follow())
        await asyncio.wait_for(first.wait(), 5)
        started = time.monotonic()
        reading.cancel()  # the caller went away while the stream waits for more output
        await asyncio.gather(reading, return_exceptions=True)
        assert time.monotonic() - started < 0.5
        with pytest.raises(ObjectMissing):
            [chunk async for chunk in runtime.logs("no-such-container")]

    run_on(podman_node, node_name, scenario)


def test_stop_honours_the_grace_period(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        polite, stubborn = await run_in_new_sandbox(
            runtime,
            shell(busybox_image, "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"),
            ContainerConfig(POD, "s", 0, busybox_image, command=("sleep", "1000")),  # pid 1 ignores SIGTERM
        )
        await asyncio.sleep(0.3)
        started = time.monotonic()
        await runtime.stop_container(polite, 10)
        assert time.monotonic() - started < 3
        started = time.monotonic()
        await runtime.stop_container(stubborn, 1)
        assert 0.9 < time.monotonic() - started < 4
        exits = {c.name: c.exit_code for c in (await runtime.list_pods(POD.uid)).containers}
        assert exits == {"c": 0, "s": 137}
        assert [chunk async for chunk in runtime.logs(polite)] == [b"bye\n"]
        await runtime.stop_container(polite, 1)  # stopping a stopped container is fine

    run_on(podman_node, node_name, scenario)


def test_restart_counts_survive_a_new_runtime_and_removal(
    podman_node: str, node_name: str, busybox_image: str
) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        sandbox = await runtime.run_sandbox(SandboxConfig(POD, "web"))
        for rc in range(3):
            container_id = await runtime.create_container(sandbox.id, shell(busybox_image, f"exit {rc}", rc))
            await runtime.start_container(container_id)
        fresh = PodmanRuntime(podman_node, node_name)  # what a restarted kubelet sees
        try:
            listed = sorted((await fresh.list_pods(POD.uid)).containers, key=lambda c: c.restart_count)
        finally:
            await fresh.close()
        assert [c.restart_count for c in listed] == [0, 1, 2]
        await eventually(
            lambda: _all_exited(runtime),
        )
        assert sorted(c.exit_code for c in (await runtime.list_pods(POD.uid)).containers) == [0, 1, 2]
        await runtime.remove_container(listed[0].id)
        await runtime.remove_container(listed[0].id)  # twice: already gone is fine
        assert len((await runtime.list_pods(POD.uid)).containers) == 2
        await runtime.remove_sandbox(sandbox.id, 1)
        assert await runtime.list_pods() == RuntimePods()

    run_on(podman_node, node_name, scenario)


async def _all_exited(runtime: PodmanRuntime) -> bool:
    return all(c.state is ContainerState.EXITED for c in (await runtime.list_pods(POD.uid)).containers)


def test_start_failure_is_start_failed(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        sandbox = await runtime.run_sandbox(SandboxConfig(POD, "web"))
        broken = ContainerConfig(POD, "c", 0, busybox_image, command=("/no/such/binary",))
        container_id = await runtime.create_container(sandbox.id, broken)
        with pytest.raises(StartFailed, match="no such file"):
            await runtime.start_container(container_id)
        [listed] = (await runtime.list_pods(POD.uid)).containers
        assert listed.state is ContainerState.CREATED

    run_on(podman_node, node_name, scenario)


def test_service_is_stopped_by_pid(tmp_path_factory: pytest.TempPathFactory) -> None:
    async def scenario() -> None:
        service = PodmanService(tmp_path_factory.mktemp("svc") / "p.sock")
        await service.start()
        pid = service.pid
        assert pid is not None and service.socket_path.exists()
        await service.stop()
        assert service.pid is None and not service.socket_path.exists()
        assert not _alive(pid)

    asyncio.run(scenario())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def registry(
    tmp_path_factory: pytest.TempPathFactory, podman_service: PodmanService, busybox_image: str
) -> Iterator[str]:
    """A local docker-registry on loopback holding the test image as raykube/busybox:1."""
    if shutil.which("docker-registry") is None:
        pytest.skip("docker-registry is not installed")
    folder = tmp_path_factory.mktemp("registry")
    address = f"127.0.0.1:{free_port()}"
    config = folder / "config.yml"
    config.write_text(
        f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'data'}\n"
        f"http:\n  addr: {address}\n"
    )
    with (folder / "registry.log").open("wb") as log:
        process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_for_port(address)
        subprocess.run(
            ["podman", "push", "--tls-verify=false", busybox_image, f"docker://{address}/raykube/busybox:1"],
            check=True,
            capture_output=True,
            env=podman_service.env,
        )
        yield address
    finally:
        process.terminate()
        process.wait(10)


def _wait_for_port(address: str, timeout: float = 10.0) -> None:
    host, port = address.rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {address}"
            time.sleep(0.05)


def test_real_pull_from_a_local_registry(
    podman_node: str, node_name: str, registry: str, podman_service: PodmanService
) -> None:
    image = f"{registry}/raykube/busybox:1"

    async def scenario(runtime: PodmanRuntime) -> None:
        assert not await runtime.image_present(image)
        await runtime.pull_image(image)  # plain HTTP: the registry is on loopback
        assert await runtime.image_present(image)
        sizes = {name: size for names, size in await runtime.list_images() for name in names}
        assert sizes[image] > 1_000_000  # busybox: about 4 MB, as the node status reports it
        with pytest.raises(ImagePullFailed, match="manifest unknown"):
            await runtime.pull_image(f"{registry}/raykube/busybox:nope")

    try:
        run_on(podman_node, node_name, scenario)
    finally:
        subprocess.run(["podman", "rmi", "--force", image], capture_output=True, env=podman_service.env)


def test_pull_policies_on_the_real_runtime(podman_node: str, node_name: str, busybox_image: str) -> None:
    async def scenario(runtime: PodmanRuntime) -> None:
        puller = ImagePuller(runtime, time.time)
        never = await puller.ensure(container(image="localhost/raykube-absent:1", image_pull_policy="Never"))
        assert never is not None and never.reason == "ErrImageNeverPull"
        assert await puller.ensure(container(image=busybox_image, image_pull_policy="Never")) is None
        assert await puller.ensure(container(image=busybox_image, image_pull_policy="IfNotPresent")) is None

    run_on(podman_node, node_name, scenario)


def test_service_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    script = (
        "import asyncio\n"
        "from agents.kubelet.podman_service import PodmanService\n"
        "async def main():\n"
        f"    service = PodmanService({str(tmp_path / 'p.sock')!r})\n"
        "    await service.start()\n"
        "    print(service.pid, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    parent.kill()  # no chance to clean up: only the kernel's parent-death signal is left
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, f"podman service {pid} outlived its parent"
        time.sleep(0.05)
