"""sync_pod and terminate_pod against the fake runtime, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from agents.kubelet.probe_manager import ProbeManager
from agents.kubelet.probes import Prober
from agents.kubelet.runtime import ContainerState, RuntimeFailure
from agents.kubelet.status_manager import StatusManager
from agents.kubelet.sync import PodSyncer
from cluster.errors import Unavailable
from raykube.v1 import pod_pb2
from tests.kubelet.fake_api import FakeApi
from tests.kubelet.fake_runtime import FakeClock, FakeRuntime
from tests.kubelet.pods import container, make_pod, terminating


class World:
    """A pod's kubelet side: fake runtime and API, real syncer, status manager and probes."""

    def __init__(self, pod: pod_pb2.Pod, runtime: FakeRuntime | None = None):
        self.pod = pod
        self.clock = FakeClock()
        self.runtime = runtime or FakeRuntime(self.clock)
        self.api = FakeApi(pod)
        self.changed: list[str] = []
        self.status = StatusManager(self.api)  # type: ignore[arg-type]
        self.probes = ProbeManager(Prober(self.runtime), self.changed.append, sleep=_instant)
        self.syncer = PodSyncer(
            self.runtime,
            self.api,  # type: ignore[arg-type]
            self.status,
            self.probes,
            host_ip="192.168.1.5",
            clock=self.clock,
        )

    async def sync(self) -> float | None:
        return await self.syncer.sync_pod(self.pod)

    def current(self) -> pod_pb2.PodStatus:
        return self.status.current(self.pod)

    def container(self, index: int = 0) -> pod_pb2.ContainerStatus:
        return self.current().container_statuses[index]

    def created(self) -> list[tuple[str, ...]]:
        return [c for c in self.runtime.calls if c[0] in ("run_sandbox", "create")]


async def _instant(seconds: float) -> None:
    await asyncio.sleep(0)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario())


def test_sync_is_idempotent_and_reports_running() -> None:
    async def scenario() -> None:
        world = World(make_pod())
        assert await world.sync() is None
        assert await world.sync() is None
        assert world.created() == [("run_sandbox", "uid-web", "0"), ("create", "c", "0")]
        assert len(world.runtime.running()) == 1
        status = world.current()
        assert (status.phase, status.pod_ip, status.host_ip) == ("Running", "10.88.0.2", "192.168.1.5")
        assert world.container().state.HasField("running")
        await world.status.flush()
        assert [s.phase for s in world.api.status_writes] == ["Running"]  # Pending was superseded
        await world.sync()
        await world.status.flush()
        assert len(world.api.status_writes) == 1  # nothing changed: nothing written

    run(scenario)


def test_restarts_follow_the_back_off_and_keep_one_previous_instance() -> None:
    async def scenario() -> None:
        world = World(make_pod())
        await world.sync()
        [first] = world.runtime.running()
        world.clock.advance(5)
        world.runtime.crash(first.id)
        await world.sync()  # first restart: no back-off yet
        assert world.container().restart_count == 1
        assert world.container().last_state.terminated.exit_code == 1
        [second] = world.runtime.running()
        world.clock.advance(3)
        world.runtime.crash(second.id)
        retry = await world.sync()
        assert retry == 10.0
        state = world.container().state
        assert state.waiting.reason == "CrashLoopBackOff"
        assert state.waiting.message == "back-off 10s restarting failed container=c pod=web_default(uid-web)"
        assert world.current().phase == "Running"
        world.clock.advance(4)
        assert await world.sync() == 6.0  # still backing off
        world.clock.advance(6)
        assert await world.sync() is None
        assert world.container().restart_count == 2 and world.container().state.HasField("running")
        await world.sync()
        assert [i.restart_count for i in world.runtime.instances("uid-web", "c")] == [1, 2]
        third = world.runtime.running()[0]
        world.clock.advance(1)
        world.runtime.crash(third.id)
        assert await world.sync() == 20.0  # the wait doubles

    run(scenario)


@pytest.mark.parametrize(
    ("policy", "exit_code", "phase"),
    [("OnFailure", 0, "Succeeded"), ("Never", 1, "Failed"), ("Never", 0, "Succeeded")],
)
def test_finished_pods_stay_finished(policy: str, exit_code: int, phase: str) -> None:
    async def scenario() -> None:
        world = World(make_pod(restart_policy=policy))
        await world.sync()
        world.runtime.crash(world.runtime.running()[0].id, exit_code)
        await world.sync()
        assert world.current().phase == phase
        world.runtime.containers.clear()  # even if its containers vanish, a finished pod does not start again
        await world.sync()
        assert world.current().phase == phase
        assert [c for c in world.runtime.calls if c[0] == "create"] == [("create", "c", "0")]

    run(scenario)


def test_image_never_pull_and_pull_back_off() -> None:
    async def scenario() -> None:
        never = World(make_pod(containers=[container(image="missing:1", image_pull_policy="Never")]))
        assert await never.sync() is None
        assert never.container().state.waiting.reason == "ErrImageNeverPull"
        assert never.runtime.pulls == [] and never.current().phase == "Pending"

        world = World(make_pod(containers=[container(image="registry.local/app:2")]))
        world.runtime.pull_errors["registry.local/app:2"] = "manifest unknown"
        assert await world.sync() == 10.0
        assert world.container().state.waiting.reason == "ErrImagePull"
        assert "manifest unknown" in world.container().state.waiting.message
        world.clock.advance(4)
        assert await world.sync() == 6.0
        assert world.container().state.waiting.reason == "ImagePullBackOff"
        assert world.runtime.pulls == ["registry.local/app:2"]  # no pull inside the back-off
        world.clock.advance(6)
        del world.runtime.pull_errors["registry.local/app:2"]
        await world.sync()
        assert world.current().phase == "Running"
        assert world.runtime.pulls == ["registry.local/app:2"] * 2

    run(scenario)


def test_start_failure_is_reported_then_retried_with_back_off() -> None:
    async def scenario() -> None:
        world = World(make_pod())
        world.runtime.start_errors["c"] = 'exec: "/app": no such file or directory'
        assert await world.sync() == 0.0  # first failure: retry at once
        assert world.container().state.waiting.reason == "RunContainerError"
        assert await world.sync() == 10.0  # instance 0 counts as terminated; instance 1 fails too
        status = world.container()
        assert (status.restart_count, status.state.waiting.reason) == (1, "RunContainerError")
        assert (status.last_state.terminated.reason, status.last_state.terminated.exit_code) == (
            "StartError",
            128,
        )

    run(scenario)


def test_terminate_stops_within_grace_removes_all_and_finishes_the_delete() -> None:
    async def scenario() -> None:
        world = World(make_pod(containers=[container("a"), container("b")], grace=30))
        await world.sync()
        leaving = terminating(world.pod, grace=7)
        world.api.fail_next = [Unavailable("API server restarting")]
        with pytest.raises(Unavailable):
            await world.syncer.terminate_pod("uid-web", leaving)
        assert world.runtime.containers == {} and world.runtime.sandboxes == {}
        await world.syncer.terminate_pod("uid-web", leaving)  # the retry only finishes the delete
        stops = [c for c in world.runtime.calls if c[0] == "stop"]
        assert sorted(stops) == [("stop", "a", "7"), ("stop", "b", "7")]
        assert world.api.deletes == [("default", "web", 0, "uid-web")]
        assert world.api.pods == {}

    run(scenario)


def test_orphans_die_fast_and_nothing_is_deleted_in_the_api() -> None:
    async def scenario() -> None:
        world = World(make_pod(grace=30))
        await world.sync()
        await world.syncer.terminate_pod("uid-web", None)
        assert ("stop", "c", "1") in world.runtime.calls
        assert world.runtime.containers == {} and world.api.deletes == []

    run(scenario)


def test_terminate_fails_while_something_is_left() -> None:
    async def scenario() -> None:
        world = World(make_pod())
        await world.sync()

        async def refuse(sandbox_id: str, grace_seconds: int) -> None:
            pass

        world.runtime.remove_sandbox = refuse  # type: ignore[method-assign]
        with pytest.raises(RuntimeFailure, match="left after removal"):
            await world.syncer.terminate_pod("uid-web", terminating(world.pod, 1))
        assert world.api.deletes == []

    run(scenario)


def test_a_restarted_kubelet_adopts_containers_and_restart_counts() -> None:
    async def scenario() -> None:
        before = World(make_pod())
        await before.sync()
        before.runtime.crash(before.runtime.running()[0].id)
        await before.sync()
        created = len(before.created())
        after = World(before.pod, runtime=before.runtime)  # new syncer, status manager, back-off
        await after.sync()
        await after.sync()
        assert len(before.runtime.running()) == 1
        assert len(after.created()) == created  # nothing new
        assert after.container().restart_count == 1 and after.current().phase == "Running"

    run(scenario)


def test_lost_sandbox_is_replaced_and_restart_counts_carry_on() -> None:
    async def scenario() -> None:
        world = World(make_pod())
        await world.sync()
        [sandbox] = world.runtime.sandboxes.values()
        world.runtime.kill_sandbox(sandbox.id)
        await world.sync()
        assert world.created()[-2:] == [("run_sandbox", "uid-web", "1"), ("create", "c", "1")]
        assert world.current().pod_ip == "10.88.0.3"
        assert world.container().restart_count == 1
        assert world.container().last_state.terminated.exit_code == 137

    run(scenario)


def test_failed_liveness_probe_kills_and_the_policy_restarts() -> None:
    async def scenario() -> None:
        live = container()
        live.liveness_probe.exec.command.extend(["check"])
        live.liveness_probe.failure_threshold = 2
        world = World(make_pod(containers=[live]))
        world.runtime.exec_codes["c"] = 1
        probing = asyncio.create_task(world.probes.run())
        await asyncio.sleep(0)
        await world.sync()
        for _ in range(10):
            await asyncio.sleep(0)
        assert world.changed == ["uid-web"]  # the probe manager asks for a sync
        await world.sync()
        assert [c for c in world.runtime.calls if c[0] == "stop"] == [("stop", "c", "30")]
        assert world.runtime.instances("uid-web", "c")[0].state is ContainerState.EXITED
        world.runtime.exec_codes["c"] = 0
        await world.sync()
        assert world.container().restart_count == 1 and world.container().state.HasField("running")
        probing.cancel()
        await asyncio.gather(probing, return_exceptions=True)

    run(scenario)
