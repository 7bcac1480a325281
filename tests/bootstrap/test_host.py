"""The component host's policy: a component that fails, however it fails, is logged and the host exits.

The host runs here in-process (Ray's part is only to restart the process the host exits): the
component is a small real coroutine, the exit is recorded instead of taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from cluster import gc_policy
from cluster.bootstrap.components import Component, Ready
from cluster.bootstrap.host import ComponentFailed, ComponentHost
from cluster.bootstrap.settings import ComponentSpec, SchedulerSettings, Settings
from cluster.supervision import run_forever
from cluster.tls import Tls

ROOT = Path(__file__).resolve().parents[2]
SPEC = ComponentSpec("scheduler-0", "host-a", SchedulerSettings(tls=Tls("ca", "cert", "key")))


class Loops:
    """A component with one named loop, like every real one (serves nothing)."""

    def __init__(self, fail_before_ready: bool = False, loop_returns: bool = False):
        self.fail_before_ready = fail_before_ready
        self.loop_returns = loop_returns
        self.drained = False
        self.started = False
        self.stopped = False

    async def run(self, ready: Ready) -> None:
        self.started = True
        if self.fail_before_ready:
            raise OSError("address already in use")
        try:
            async with asyncio.TaskGroup() as tasks:
                run_forever(tasks, "work", self._work())
                ready("127.0.0.1:1")
        finally:
            self.stopped = True

    async def _work(self) -> None:
        if not self.loop_returns:
            await asyncio.Event().wait()

    def drain(self) -> None:
        self.drained = True


class Exits:
    def __init__(self) -> None:
        self.codes: list[int] = []
        self.called = asyncio.Event()

    def __call__(self, code: int) -> None:
        self.codes.append(code)
        self.called.set()


class Collector(gc_policy.Collector):
    """Records when the host applies its collector policy (the real one would tune pytest's process)."""

    def __init__(self, component: Loops | None = None) -> None:
        self.calls: list[str] = []
        self.component = component

    def serving(self) -> None:
        assert self.component is None or not self.component.started, "tuned after the component started"
        self.calls.append("serving")

    def ready(self) -> None:
        self.calls.append("ready")


def host_of(component: Loops, exits: Exits, collector: Collector | None = None) -> ComponentHost:
    builder: Callable[[Settings], Component] = lambda _: component  # noqa: E731
    return ComponentHost(
        SPEC, build=builder, exit=exits, pause_after_failed_start=0.01, collector=collector or Collector()
    )


def test_the_collector_is_tuned_before_the_component_starts_and_frozen_once_it_is_ready() -> None:
    async def scenario(component: Loops) -> list[str]:
        collector = Collector(component)
        host = host_of(component, Exits(), collector)
        assert collector.calls == ["serving"]
        with contextlib.suppress(ComponentFailed):
            await host.address()
        await host.stop()
        return collector.calls

    assert asyncio.run(scenario(Loops())) == ["serving", "ready"]
    assert asyncio.run(scenario(Loops(fail_before_ready=True))) == ["serving"]


def test_the_real_policy_collects_less_often_and_freezes_what_startup_built() -> None:
    """In a child process: the policy changes the process-wide collector."""
    program = (
        "import gc; from cluster import gc_policy as p; c = p.Collector(); c.serving(); "
        "assert gc.get_threshold() == (p.YOUNG_THRESHOLD, *p.OLDER_THRESHOLDS), gc.get_threshold(); "
        "assert gc.get_freeze_count() == 0; kept = [[i] for i in range(1000)]; c.ready(); "
        "assert gc.get_freeze_count() >= 1000, gc.get_freeze_count()"
    )
    subprocess.run([sys.executable, "-c", program], check=True, cwd=ROOT)


def test_a_crash_in_a_loop_is_logged_with_its_traceback_and_the_host_exits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> Exits:
        exits, component = Exits(), Loops()
        host = host_of(component, exits)
        assert await host.address() == "127.0.0.1:1"
        assert await host.inject_crash("work") == 1
        await asyncio.wait_for(exits.called.wait(), 5)
        assert component.stopped  # it cleaned up on the way out
        return exits

    with caplog.at_level(logging.CRITICAL):
        exits = asyncio.run(scenario())
    assert exits.codes == [1]
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert record.getMessage() == "scheduler failed; exiting for Ray to restart it"
    assert record.exc_info is not None and "crash injected into 'work'" in caplog.text
    assert "Traceback" in caplog.text


def test_a_loop_that_ends_by_itself_makes_the_host_exit(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> Exits:
        exits = Exits()
        host_of(Loops(loop_returns=True), exits)
        await asyncio.wait_for(exits.called.wait(), 5)
        return exits

    assert asyncio.run(scenario()).codes == [1]
    assert "'work' returned; it should run until stopped" in caplog.text


def test_a_failed_start_is_reported_to_waiters_before_the_host_exits() -> None:
    async def scenario() -> Exits:
        exits = Exits()
        host = host_of(Loops(fail_before_ready=True), exits)
        with pytest.raises(
            ComponentFailed, match=r"scheduler failed to start: OSError.*address already in use"
        ):
            await host.address()
        assert exits.codes == []  # waiters hear why first; the exit follows the pause
        await asyncio.wait_for(exits.called.wait(), 5)
        return exits

    assert asyncio.run(scenario()).codes == [1]


def test_stop_ends_the_component_without_exiting_and_drains_only_when_asked() -> None:
    async def scenario(drain: bool) -> tuple[Loops, Exits]:
        exits, component = Exits(), Loops()
        host = host_of(component, exits)
        await host.address()
        await host.stop(drain=drain)
        await asyncio.sleep(0.05)
        return component, exits

    for drain in (False, True):
        component, exits = asyncio.run(scenario(drain))
        assert component.stopped and exits.codes == []
        assert component.drained is drain
