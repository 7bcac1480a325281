"""Loops that must run as long as their owner: ending any other way is a failure, never silence.

Every component runs its long-running work (informers, watch caches, relisters, Raft's tick) as
children of an `asyncio.TaskGroup`, so a loop that raises fails its owner and, up the chain, the
component, whose host then exits for Ray to restart it (cluster/bootstrap/host.py). Two ways of
ending are silent in a plain TaskGroup, and `run_forever` turns both into exceptions:
  - a loop that returns (a bug: these loops only end by cancellation) raises `LoopEnded`;
  - a crash injected by a test (`inject_crash`) raises `InjectedCrash` where the loop waits, as an
    unexpected exception from whatever it awaited would.
Cancellation by the owner (the group stopping) passes through unchanged.

    async with asyncio.TaskGroup() as tasks:
        run_forever(tasks, "scheduler pod informer", informer.run())
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any

_crashing: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


class LoopEnded(RuntimeError):
    """A loop that should run until its owner stops it returned."""


class InjectedCrash(RuntimeError):
    """TEST ONLY: the failure `inject_crash` makes a loop raise."""


def run_forever(group: asyncio.TaskGroup, name: str, loop: Coroutine[Any, Any, Any]) -> asyncio.Task[None]:
    """Start `loop` as the child `name` of `group`; its end, unless `group` cancels it, fails the group."""
    return group.create_task(_forever(name, loop), name=name)


async def _forever(name: str, loop: Coroutine[Any, Any, Any]) -> None:
    try:
        await loop
    except asyncio.CancelledError:
        if asyncio.current_task() in _crashing:
            raise InjectedCrash(f"crash injected into {name!r}") from None
        raise
    raise LoopEnded(f"{name!r} returned; it should run until stopped")


def inject_crash(name: str, *, delay: float = 0.0) -> int:
    """TEST ONLY: make every loop called `name` on this event loop fail as a bug inside it would,
    `delay` seconds from now. Returns how many will be hit (0: no running loop has that name)."""
    hit = [task for task in asyncio.all_tasks() if task.get_name() == name and not task.done()]

    def crash() -> None:
        for task in hit:
            _crashing.add(task)
            task.cancel()

    if delay:
        asyncio.get_running_loop().call_later(delay, crash)
    else:
        crash()
    return len(hit)
