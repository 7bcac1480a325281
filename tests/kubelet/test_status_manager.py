"""The one status writer: writes only changes, newest wins, never onto another pod."""

from __future__ import annotations

import asyncio

from agents.kubelet.status_manager import StatusManager
from cluster.errors import Unavailable
from raykube.v1 import pod_pb2
from tests.kubelet.fake_api import FakeApi
from tests.kubelet.pods import make_pod


def phase(name: str) -> pod_pb2.PodStatus:
    return pod_pb2.PodStatus(phase=name)


def test_writes_only_when_the_status_changed() -> None:
    async def scenario() -> None:
        pod = make_pod()
        pod.status.phase = "Pending"
        api = FakeApi(pod)
        manager = StatusManager(api)  # type: ignore[arg-type]
        manager.set(pod, phase("Pending"))  # what the API server has already
        assert manager.pending() == 0
        manager.set(pod, phase("Running"))
        manager.set(pod, phase("Running"))
        assert await manager.flush()
        manager.set(pod, phase("Running"))
        assert await manager.flush()
        assert [s.phase for s in api.status_writes] == ["Running"]
        assert manager.current(pod).phase == "Running"

    asyncio.run(scenario())


def test_newest_status_wins_over_a_write_in_flight() -> None:
    async def scenario() -> None:
        pod = make_pod()
        api = FakeApi(pod)
        manager = StatusManager(api)  # type: ignore[arg-type]
        release = asyncio.Event()
        real_update = api.update_status

        async def slow_update(obj: pod_pb2.Pod) -> pod_pb2.Pod:
            await release.wait()
            return await real_update(obj)

        api.update_status = slow_update  # type: ignore[method-assign,assignment]
        manager.set(pod, phase("Pending"))
        writing = asyncio.create_task(manager.flush())
        await asyncio.sleep(0)
        manager.set(pod, phase("Running"))  # newer, while "Pending" is on the wire
        release.set()
        await writing
        assert manager.pending() == 1  # the newer status still has to go
        await manager.flush()
        assert [s.phase for s in api.status_writes] == ["Pending", "Running"]
        assert api.pods["default", "web"].status.phase == "Running"

    asyncio.run(scenario())


def test_conflict_rereads_and_retries_with_the_fresh_version() -> None:
    async def scenario() -> None:
        pod = make_pod()
        api = FakeApi(pod)
        moved = api.pods["default", "web"]
        moved.metadata.resource_version = "9"  # someone else wrote meanwhile
        manager = StatusManager(api)  # type: ignore[arg-type]
        manager.set(pod, phase("Running"))
        assert await manager.flush()
        assert api.pods["default", "web"].status.phase == "Running"

    asyncio.run(scenario())


def test_a_new_pod_under_the_same_name_never_gets_the_old_status() -> None:
    async def scenario() -> None:
        old = make_pod(uid="old-uid")
        api = FakeApi(make_pod(uid="new-uid"))
        manager = StatusManager(api)  # type: ignore[arg-type]
        manager.set(old, phase("Failed"))
        assert await manager.flush()
        assert api.status_writes == [] and manager.pending() == 0
        assert manager.current(old) == old.status  # forgotten

    asyncio.run(scenario())


def test_gone_pod_is_forgotten_and_errors_are_retried() -> None:
    async def scenario() -> None:
        gone, pod = make_pod("gone", uid="g"), make_pod()
        api = FakeApi(pod)
        manager = StatusManager(api)  # type: ignore[arg-type]
        manager.set(gone, phase("Running"))
        manager.set(pod, phase("Running"))
        api.fail_next = [Unavailable("store down")]  # the first write ("gone") fails
        assert not await manager.flush()
        assert manager.pending() == 1
        assert await manager.flush()
        assert manager.pending() == 0
        assert [s.phase for s in api.status_writes] == ["Running"]

    asyncio.run(scenario())
