"""The relist diff: old snapshot vs new snapshot -> pod lifecycle events."""

from __future__ import annotations

import asyncio

from agents.kubelet.pleg import (
    CHANGED,
    CREATED,
    DIED,
    REMOVED,
    STARTED,
    PodLifecycleEvent,
    Record,
    Relister,
    diff,
)
from agents.kubelet.runtime_config import container_config, sandbox_config
from tests.kubelet.fake_runtime import FakeClock, FakeRuntime
from tests.kubelet.pods import make_pod


def test_diff_reports_every_change_once_per_object() -> None:
    old = {
        "a": Record("p1", "running"),
        "b": Record("p1", "running"),
        "c": Record("p2", "created"),
        "d": Record("p2", "exited"),
        "s": Record("p3", "running"),
    }
    new = {
        "a": Record("p1", "running"),  # unchanged: no event
        "b": Record("p1", "exited"),
        "c": Record("p2", "paused"),
        "e": Record("p3", "created"),
        "f": Record("p4", "running"),
        "s": Record("p3", "not-ready"),  # a sandbox whose network holder died
    }
    assert diff(old, new) == [
        PodLifecycleEvent("p1", DIED, "b"),
        PodLifecycleEvent("p2", CHANGED, "c"),
        PodLifecycleEvent("p2", REMOVED, "d"),
        PodLifecycleEvent("p3", CREATED, "e"),
        PodLifecycleEvent("p4", STARTED, "f"),
        PodLifecycleEvent("p3", DIED, "s"),
    ]
    assert diff(new, new) == []


def test_relister_reports_what_changed_since_the_last_relist() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        runtime = FakeRuntime(clock)
        events: list[PodLifecycleEvent] = []
        relister = Relister(runtime, events.append)
        await relister.relist()
        assert events == []
        pod = make_pod()
        sandbox = await runtime.run_sandbox(sandbox_config(pod, 0))
        cid = await runtime.create_container(sandbox.id, container_config(pod, pod.spec.containers[0], 0))
        await runtime.start_container(cid)
        await relister.relist()
        assert sorted(e.kind for e in events) == [STARTED, STARTED]
        assert relister.pod_uids() == {"uid-web"}
        events.clear()
        runtime.crash(cid)
        await relister.relist()
        assert events == [PodLifecycleEvent("uid-web", DIED, cid)]
        assert relister.healthy() and relister.last_duration >= 0

    asyncio.run(scenario())
