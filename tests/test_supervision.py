"""run_forever: a loop's end is its owner's failure, unless the owner ended it."""

from __future__ import annotations

import asyncio

import pytest

from cluster.supervision import InjectedCrash, LoopEnded, inject_crash, run_forever


async def idle() -> None:
    await asyncio.Event().wait()


def test_a_loop_that_returns_fails_its_group() -> None:
    async def returns() -> None:
        await asyncio.sleep(0)

    async def scenario() -> None:
        async with asyncio.TaskGroup() as tasks:
            run_forever(tasks, "short loop", returns())
            run_forever(tasks, "sibling", idle())

    with pytest.raises(ExceptionGroup) as failed:
        asyncio.run(scenario())
    [error] = failed.value.exceptions
    assert isinstance(error, LoopEnded) and "'short loop' returned" in str(error)


def test_an_injected_crash_raises_where_the_loop_waits() -> None:
    cleaned_up = []

    async def loop() -> None:
        try:
            await idle()
        finally:
            cleaned_up.append(True)

    async def scenario() -> None:
        async with asyncio.TaskGroup() as tasks:
            run_forever(tasks, "victim", loop())
            run_forever(tasks, "bystander", idle())
            await asyncio.sleep(0)
            assert inject_crash("victim") == 1
            assert inject_crash("no such loop") == 0

    with pytest.raises(ExceptionGroup) as failed:
        asyncio.run(scenario())
    [error] = failed.value.exceptions
    assert isinstance(error, InjectedCrash) and "'victim'" in str(error)
    assert cleaned_up == [True]


def test_the_owner_cancelling_its_loops_is_no_failure() -> None:
    async def scenario() -> None:
        async with asyncio.TaskGroup() as tasks:
            loops = [run_forever(tasks, f"loop {i}", idle()) for i in range(3)]
            await asyncio.sleep(0)
            for task in loops:
                task.cancel()
        assert all(task.cancelled() for task in loops)

    asyncio.run(scenario())
