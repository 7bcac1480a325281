"""The Kubelet gRPC service: which instance's logs, over real gRPC, with the API server's token."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from agents.kubelet.runtime import ContainerInfo, ContainerState
from agents.kubelet.runtime_config import container_config, sandbox_config
from agents.kubelet.server import KubeletService, choose_instance, start_server
from cluster.errors import BadRequest, NotFound, Unauthorized, from_rpc_error
from raykube.v1 import kubelet_pb2, kubelet_pb2_grpc
from tests.kubelet.fake_runtime import FakeClock, FakeRuntime
from tests.kubelet.pods import container, make_pod


def inst(name: str, rc: int) -> ContainerInfo:
    return ContainerInfo(f"{name}{rc}", "uid", "sb", name, rc, ContainerState.EXITED)


def test_choose_instance() -> None:
    instances = [inst("a", 0), inst("a", 2), inst("a", 1), inst("b", 0)]
    assert choose_instance(instances, "a", previous=False).id == "a2"
    assert choose_instance(instances, "a", previous=True).id == "a1"
    assert choose_instance([inst("a", 0)], "", previous=False).id == "a0"
    with pytest.raises(BadRequest, match=r"choose one of: \[a b\]"):
        choose_instance(instances, "", previous=False)
    with pytest.raises(BadRequest, match='previous terminated container "b" not found'):
        choose_instance(instances, "b", previous=True)
    with pytest.raises(NotFound):
        choose_instance(instances, "c", previous=False)
    with pytest.raises(NotFound):
        choose_instance([], "", previous=False)


def test_logs_over_grpc_current_previous_tail_and_token() -> None:
    async def scenario() -> None:
        runtime = FakeRuntime(FakeClock())
        pod = make_pod(containers=[container("app")])
        sandbox = await runtime.run_sandbox(sandbox_config(pod, 0))
        first = await runtime.create_container(sandbox.id, container_config(pod, pod.spec.containers[0], 0))
        second = await runtime.create_container(sandbox.id, container_config(pod, pod.spec.containers[0], 1))
        runtime.logs_of[first] = [b"old 1\n", b"old 2\n"]
        runtime.logs_of[second] = [b"new 1\n", b"new 2\n", b"new 3\n"]
        server, port = await start_server(KubeletService(runtime, token="secret"), "127.0.0.1:0")
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = kubelet_pb2_grpc.KubeletStub(channel)
                auth = (("authorization", "Bearer secret"),)

                async def logs(metadata: tuple[tuple[str, str], ...] = auth, **fields: object) -> bytes:
                    request = kubelet_pb2.KubeletLogsRequest(pod_uid="uid-web", **fields)  # type: ignore[arg-type]
                    return b"".join([r.data async for r in stub.Logs(request, metadata=metadata)])

                assert await logs() == b"new 1\nnew 2\nnew 3\n"
                assert await logs(tail_lines=1) == b"new 3\n"
                assert await logs(container="app", previous=True) == b"old 1\nold 2\n"
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await logs(metadata=(("authorization", "Bearer guess"),))
                assert isinstance(from_rpc_error(caught.value), Unauthorized)
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await logs(container="nope")
                assert isinstance(from_rpc_error(caught.value), NotFound)
        finally:
            await server.stop(None)

    asyncio.run(scenario())
