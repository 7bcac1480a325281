"""Probes: exec, httpGet and tcpSocket against real loopback servers; thresholds in the manager."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from agents.kubelet.probe_manager import ProbeManager
from agents.kubelet.probes import Prober, ProbeTarget
from agents.kubelet.runtime import ContainerInfo, ContainerState
from agents.kubelet.runtime_config import container_config, sandbox_config
from cluster.bootstrap.ray_node import free_port
from raykube.v1 import pod_pb2
from tests.kubelet.fake_runtime import FakeClock, FakeRuntime
from tests.kubelet.pods import container, make_pod


def http_probe(port: str, path: str = "/healthz") -> pod_pb2.Probe:
    return pod_pb2.Probe(http_get=pod_pb2.HTTPGetAction(path=path, port=port))


async def http_server(statuses: dict[str, int]) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        path = request.split()[1].decode()
        if path == "/hang":
            await asyncio.sleep(10)
        code = statuses.get(path, 404)
        writer.write(f"HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def test_http_and_tcp_probes_on_loopback() -> None:
    async def scenario() -> None:
        server = await http_server({"/healthz": 200, "/moved": 302, "/broken": 500})
        port = server.sockets[0].getsockname()[1]
        prober = Prober(FakeRuntime(FakeClock()))
        target = ProbeTarget("cid", "127.0.0.1", {"http": port})
        async with server:
            assert await prober.probe(http_probe(str(port)), target)
            assert await prober.probe(http_probe("http", "/moved"), target)  # named port; 3xx is success
            assert not await prober.probe(http_probe("http", "/broken"), target)
            assert not await prober.probe(http_probe("nope"), target)  # unknown named port
            slow = http_probe("http", "/hang")
            slow.timeout_seconds = 1
            started = asyncio.get_running_loop().time()
            assert not await prober.probe(slow, target)
            assert asyncio.get_running_loop().time() - started < 2
            tcp = pod_pb2.Probe(tcp_socket=pod_pb2.TCPSocketAction(port=str(port)))
            assert await prober.probe(tcp, target)
        closed = pod_pb2.Probe(tcp_socket=pod_pb2.TCPSocketAction(port=str(free_port())))
        assert not await prober.probe(closed, target)
        assert not await prober.probe(http_probe(str(free_port())), target)

    asyncio.run(scenario())


def test_exec_probe_is_the_exit_code() -> None:
    async def scenario() -> None:
        runtime = FakeRuntime(FakeClock())
        pod = make_pod()
        sandbox = await runtime.run_sandbox(sandbox_config(pod, 0))
        cid = await runtime.create_container(sandbox.id, container_config(pod, pod.spec.containers[0], 0))
        probe = pod_pb2.Probe(exec=pod_pb2.ExecAction(command=["true"]))
        prober = Prober(runtime)
        assert await prober.probe(probe, ProbeTarget(cid, ""))
        runtime.exec_codes["c"] = 3
        assert not await prober.probe(probe, ProbeTarget(cid, ""))
        assert not await prober.probe(pod_pb2.Probe(), ProbeTarget(cid, ""))  # no handler: failure

    asyncio.run(scenario())


class ScriptedProber:
    """Answers from a script, then hangs."""

    def __init__(self, answers: list[bool]):
        self._answers: Iterator[bool] = iter(answers)
        self.done = asyncio.Event()

    async def probe(self, probe: pod_pb2.Probe, target: ProbeTarget) -> bool:
        answer = next(self._answers, None)
        if answer is None:
            self.done.set()
            await asyncio.Future()  # script over: hang like a slow probe
        return bool(answer)


def running(cid: str, name: str = "c") -> ContainerInfo:
    return ContainerInfo(cid, "uid-web", "sb", name, 0, ContainerState.RUNNING)


def test_readiness_thresholds_and_results_per_instance() -> None:
    async def scenario() -> None:
        spec = container()
        spec.readiness_probe.CopyFrom(http_probe("80"))
        spec.readiness_probe.success_threshold = 2
        spec.readiness_probe.failure_threshold = 2
        spec.readiness_probe.initial_delay_seconds = 5
        pod = make_pod(containers=[spec])
        prober = ScriptedProber([True, True, False, True, False, False])
        changes: list[str] = []
        sleeps: list[float] = []
        seen: list[bool | None] = []

        async def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            seen.append(manager.readiness().get("c1"))
            await asyncio.sleep(0)

        manager = ProbeManager(prober, changes.append, sleep=sleep)  # type: ignore[arg-type]
        task = asyncio.create_task(manager.run())
        await asyncio.sleep(0)
        manager.sync(pod, "10.88.0.9", [running("c1")])
        await prober.done.wait()
        # readings before each sleep: initial delay, then after each probe answer
        assert seen == [None, None, True, True, True, True, False]
        assert sleeps == [5, 10, 10, 10, 10, 10, 10]
        assert changes == ["uid-web", "uid-web"]
        manager.sync(pod, "10.88.0.9", [])  # the instance stopped: its worker and result go
        assert manager.readiness() == {}
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
