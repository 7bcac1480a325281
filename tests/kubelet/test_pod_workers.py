"""Pod workers: newest desired state only, one-way termination, retries until done."""

from __future__ import annotations

import asyncio

import pytest

from agents.kubelet.pod_workers import PodWorkers
from agents.kubelet.runtime import RuntimeFailure
from raykube.v1 import pod_pb2
from tests.kubelet.pods import make_pod, terminating


def versioned(version: str) -> pod_pb2.Pod:
    pod = make_pod()
    pod.metadata.resource_version = version
    return pod


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


class Recorder:
    def __init__(self) -> None:
        self.synced: list[str] = []
        self.terminated: list[tuple[str, str | None]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.terminate_failures = 0
        self.retry_after: float | None = None

    async def sync(self, pod: pod_pb2.Pod) -> float | None:
        self.synced.append(pod.metadata.resource_version)
        await self.gate.wait()
        return self.retry_after

    async def terminate(self, uid: str, pod: pod_pb2.Pod | None) -> None:
        self.terminated.append((uid, pod.metadata.resource_version if pod else None))
        if self.terminate_failures:
            self.terminate_failures -= 1
            raise RuntimeFailure("podman busy")


def test_a_burst_of_updates_costs_one_sync_with_the_newest_pod() -> None:
    async def scenario() -> None:
        calls = Recorder()
        async with asyncio.TaskGroup() as group:
            workers = PodWorkers(calls.sync, calls.terminate, group.create_task)
            calls.gate.clear()
            workers.update("uid-web", versioned("1"))
            await settle()
            for version in "2345":
                workers.update("uid-web", versioned(version))
            calls.gate.set()
            await settle()
            assert calls.synced == ["1", "5"]
            workers.update("uid-web", None)
        assert calls.terminated == [("uid-web", None)] and "uid-web" not in workers

    asyncio.run(scenario())


def test_termination_is_one_way_retried_and_final() -> None:
    async def scenario() -> None:
        calls = Recorder()
        calls.terminate_failures = 2
        async with asyncio.TaskGroup() as group:
            workers = PodWorkers(calls.sync, calls.terminate, group.create_task, retry=(0.001, 0.002))
            workers.update("uid-web", versioned("1"))
            await settle()
            workers.update("uid-web", terminating(versioned("2"), grace=5))
            workers.update("uid-web", versioned("3"))  # late news without the deletion: still terminating
        assert calls.synced == ["1"]
        assert calls.terminated == [("uid-web", "3")] * 3
        workers.update("uid-web", versioned("4"))  # finished: ignored until the API says it is gone
        assert "uid-web" not in workers
        workers.update("uid-web", None)

    asyncio.run(scenario())


def test_sync_asks_to_run_again_later() -> None:
    async def scenario() -> None:
        calls = Recorder()
        calls.retry_after = 0.01
        async with asyncio.TaskGroup() as group:
            workers = PodWorkers(calls.sync, calls.terminate, group.create_task)
            workers.update("uid-web", versioned("1"))
            await asyncio.sleep(0.05)
            calls.retry_after = None
            await asyncio.sleep(0.02)
            count = len(calls.synced)
            await asyncio.sleep(0.03)
            assert len(calls.synced) == count >= 3
            workers.update("uid-web", None)

    asyncio.run(scenario())


def test_a_bug_in_sync_is_not_swallowed() -> None:
    async def broken(pod: pod_pb2.Pod) -> float | None:
        raise KeyError("bug")

    async def scenario() -> None:
        async with asyncio.TaskGroup() as group:
            PodWorkers(broken, Recorder().terminate, group.create_task).update("uid-web", versioned("1"))

    with pytest.raises(ExceptionGroup) as caught:
        asyncio.run(scenario())
    assert caught.group_contains(KeyError)
