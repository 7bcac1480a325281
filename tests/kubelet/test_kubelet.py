"""The whole Kubelet loop against the real store + API server (in-process), on the fake runtime.

The runtime is the only fake: pods are created, bound and deleted through the real API, the
kubelet watches them through its informer and writes status back with update_status.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from agents.kubelet.kubelet import Kubelet, _Resync
from agents.kubelet.runtime import ContainerState, PodRef, SandboxConfig
from agents.kubelet.runtime_config import container_config
from cluster.api.resources import NODES, PODS
from cluster.client.api import ApiClient
from cluster.errors import NotFound
from raykube.v1 import node_pb2, pod_pb2
from tests.harness import ControlPlane, control_plane
from tests.kubelet.fake_runtime import FakeRuntime
from tests.kubelet.pods import make_pod
from tests.kubelet.waiting import eventually

NODE = "node-1"  # tests/harness.py has its kubelet token: the node authorizer applies
NODE_TOKEN = "node-1-token"


@contextlib.asynccontextmanager
async def running_kubelet(plane: ControlPlane, runtime: FakeRuntime) -> AsyncIterator[Kubelet]:
    client = plane.client(NODE_TOKEN)
    kubelet = Kubelet(
        NODE,
        client,
        runtime,
        "127.0.0.1:0",
        node_ip="127.0.0.1",
        relist_period=0.05,
        resync_period=0.3,
        heartbeat_period=0.2,
    )
    task = asyncio.create_task(kubelet.run())
    try:
        await asyncio.wait_for(kubelet.ready.wait(), 10)
        yield kubelet
    finally:
        await kubelet.shutdown(remove_pods=False)
        assert task.done()
        await client.close()


def bound_pod(name: str = "web") -> pod_pb2.Pod:
    pod = make_pod(name, uid="", node=NODE)
    pod.metadata.ClearField("resource_version")
    return pod


async def status_of(admin: ApiClient, name: str = "web") -> pod_pb2.PodStatus:
    pod = await admin.get(PODS, "default", name)
    assert isinstance(pod, pod_pb2.Pod)
    return pod.status


def run(tmp_path: Path, scenario: Callable[[ControlPlane, ApiClient, FakeRuntime], Awaitable[None]]) -> None:
    async def main() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            await scenario(plane, admin, FakeRuntime(time.time))

    asyncio.run(main())


def test_pod_runs_reports_status_and_is_deleted(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient, runtime: FakeRuntime) -> None:
        async with running_kubelet(plane, runtime):
            created = await admin.create(bound_pod())

            async def running() -> bool:
                status = await status_of(admin)
                return status.phase == "Running" and status.pod_ip != ""

            await eventually(running)
            status = await status_of(admin)
            assert status.host_ip == "127.0.0.1"
            assert status.container_statuses[0].ready
            assert {c.type: c.status for c in status.conditions}["Ready"] == "True"
            await admin.delete(PODS, "default", "web")  # graceful: the kubelet finishes it

            async def gone() -> bool:
                try:
                    await admin.get(PODS, "default", "web")
                except NotFound:
                    return True
                return False

            await eventually(gone)
            assert runtime.containers == {} and runtime.sandboxes == {}
            stops = [c for c in runtime.calls if c[0] == "stop"]
            assert stops == [("stop", "c", str(created.spec.termination_grace_period_seconds))]

    run(tmp_path, scenario)


def test_node_is_registered_and_heartbeats(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient, runtime: FakeRuntime) -> None:
        stale = node_pb2.Node(api_version="v1", kind="Node")
        stale.metadata.name = NODE
        stale.metadata.labels["team"] = "lab"
        await admin.create(stale)  # a node left from an earlier run: updated, not an error
        async with running_kubelet(plane, runtime) as kubelet:
            node = await admin.get(NODES, "", NODE)
            assert isinstance(node, node_pb2.Node)
            assert node.metadata.labels["kubernetes.io/hostname"] == NODE
            assert node.metadata.labels["kubernetes.io/os"] == "linux"
            assert node.metadata.labels["team"] == "lab"
            capacity = node.status.capacity
            assert capacity["pods"] == "110" and int(capacity["cpu"]) >= 1
            assert capacity["memory"].endswith("Ki") and dict(node.status.allocatable) == dict(capacity)
            addresses = {a.type: a.address for a in node.status.addresses}
            assert addresses["InternalIP"] == "127.0.0.1" and addresses["Hostname"]
            assert node.status.daemon_endpoints.kubelet_endpoint.port == kubelet.port > 0
            assert node.status.node_info.container_runtime_version == "fake://1.0"
            [ready] = node.status.conditions
            assert (ready.type, ready.status, ready.reason) == ("Ready", "True", "KubeletReady")
            first_beat = ready.last_heartbeat_time.seconds

            async def beat_again() -> bool:
                fresh = await admin.get(NODES, "", NODE)
                assert isinstance(fresh, node_pb2.Node)
                [condition] = fresh.status.conditions
                return condition.last_heartbeat_time.seconds > first_beat

            await eventually(beat_again, timeout=5)
            await admin.delete(NODES, "", NODE)

            async def registered_again() -> bool:
                try:
                    await admin.get(NODES, "", NODE)
                except NotFound:
                    return False
                return True

            await eventually(registered_again, timeout=5)

    run(tmp_path, scenario)


def test_orphans_are_removed_and_a_restarted_kubelet_adopts_its_pods(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient, runtime: FakeRuntime) -> None:
        ghost = make_pod("ghost", uid="ghost-uid")
        sandbox = await runtime.run_sandbox(SandboxConfig(PodRef("ghost-uid", "default", "ghost"), "ghost"))
        ghost_container = await runtime.create_container(
            sandbox.id, container_config(ghost, ghost.spec.containers[0], 0)
        )
        await runtime.start_container(ghost_container)
        async with running_kubelet(plane, runtime):
            await admin.create(bound_pod())

            async def settled() -> bool:
                status = await status_of(admin)
                ghost_gone = all(c.pod_uid != "ghost-uid" for c in runtime.containers.values())
                return ghost_gone and status.phase == "Running"

            await eventually(settled)
            [web] = runtime.running()
            runtime.crash(web.id)

            async def restarted() -> bool:
                return (await status_of(admin)).container_statuses[0].restart_count == 1

            await eventually(restarted)
        created = [c for c in runtime.calls if c[0] == "create"]
        async with running_kubelet(plane, runtime):  # a new kubelet on the same runtime
            await asyncio.sleep(0.5)  # several relists and resyncs
            assert [c for c in runtime.calls if c[0] == "create"] == created
            assert len(runtime.running()) == 1
            status = await status_of(admin)
            assert (status.phase, status.container_statuses[0].restart_count) == ("Running", 1)

    run(tmp_path, scenario)


def test_shutdown_can_remove_every_pod_of_the_node(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient, runtime: FakeRuntime) -> None:
        client = plane.client(NODE_TOKEN)
        kubelet = Kubelet(NODE, client, runtime, "127.0.0.1:0", node_ip="127.0.0.1", relist_period=0.05)
        task = asyncio.create_task(kubelet.run())
        await asyncio.wait_for(kubelet.ready.wait(), 10)
        await admin.create(bound_pod("a"))
        await admin.create(bound_pod("b"))
        await eventually(lambda: _count_running(runtime, 2))
        await kubelet.shutdown(remove_pods=True, grace_seconds=0)
        assert task.done() and task.cancelled()
        assert runtime.containers == {} and runtime.sandboxes == {}
        await client.close()

    run(tmp_path, scenario)


async def _count_running(runtime: FakeRuntime, count: int) -> bool:
    return sum(c.state is ContainerState.RUNNING for c in runtime.containers.values()) == count


class RecordingWorkers:
    """Stands in for PodWorkers: what the dispatch loop asked of each pod."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, pod_pb2.Pod | None]] = []

    def update(self, uid: str, pod: pod_pb2.Pod | None) -> None:
        self.updates.append((uid, pod))


def test_a_runtime_event_queued_before_the_first_list_does_not_make_its_pod_an_orphan(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient, runtime: FakeRuntime) -> None:
        client = plane.client(NODE_TOKEN)
        kubelet = Kubelet(NODE, client, runtime, "127.0.0.1:0", node_ip="127.0.0.1")
        pod = make_pod("survivor", uid="survivor-uid", node=NODE)
        # A restarted kubelet: its first relist sees the pod's running containers before the
        # informer's first list arrives, and the list is in (synced) before the loop runs.
        kubelet._look_at("survivor-uid")
        kubelet.on_add(pod)
        kubelet.informer.synced.set()
        kubelet._queue.put_nowait(_Resync())  # what _resync() queues once synced
        kubelet._look_at("ghost-uid")  # containers of a pod the API does not have
        workers = RecordingWorkers()
        dispatch = asyncio.create_task(kubelet._dispatch(workers))  # type: ignore[arg-type]
        await eventually(lambda: _settled(kubelet))
        dispatch.cancel()
        await client.close()
        assert ("survivor-uid", None) not in workers.updates  # not killed as an orphan
        assert ("survivor-uid", pod) in workers.updates and ("ghost-uid", None) in workers.updates

    run(tmp_path, scenario)


async def _settled(kubelet: Kubelet) -> bool:
    return kubelet._queue.empty()
