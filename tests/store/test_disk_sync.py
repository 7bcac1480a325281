"""The replica's fsync runs on the event loop while the disk is fast and in the disk thread when it is slow."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cluster.store.replication.disk_sync import DiskSyncer


class Disk:
    """A sync whose duration the test sets (on a fake clock), recording the thread it ran in."""

    def __init__(self) -> None:
        self.now = 0.0
        self.takes = 0.0
        self.threads: list[int] = []
        self.fails: OSError | None = None

    def clock(self) -> float:
        return self.now

    def sync(self) -> None:
        self.threads.append(threading.get_ident())
        if self.fails is not None:
            raise self.fails
        self.now += self.takes


def run_syncs(disk: Disk, durations: list[float]) -> list[bool]:
    """For each sync (taking the given seconds): whether it ran on the loop's thread."""

    async def scenario() -> list[bool]:
        with ThreadPoolExecutor(1) as executor:
            syncer = DiskSyncer(disk.sync, executor, inline_below=0.001, clock=disk.clock)
            loop_thread = threading.get_ident()
            for takes in durations:
                disk.takes = takes
                await syncer()
            assert syncer.inline + syncer.threaded == len(durations)
            return [thread == loop_thread for thread in disk.threads]

    return asyncio.run(scenario())


def test_fast_syncs_run_on_the_loop() -> None:
    assert run_syncs(Disk(), [0.0001] * 20) == [True] * 20


def test_a_slow_disk_moves_syncs_to_the_thread_and_a_fast_one_brings_them_back() -> None:
    inline = run_syncs(Disk(), [0.0001] * 3 + [0.02] + [0.0001] * 20)
    assert inline[:4] == [True] * 4  # the slow one could not be known in advance
    assert inline[4] is False  # one 20 ms fsync is enough to stop blocking the loop
    assert inline[-1] is True and False in inline[4:]  # timed in the thread; back once fast again
    back = inline.index(True, 4)
    assert all(not on_loop for on_loop in inline[4:back]) and all(inline[back:])


def test_a_failing_sync_raises_in_either_place() -> None:
    for slow_first in (False, True):
        disk = Disk()

        async def scenario(disk: Disk = disk, slow_first: bool = slow_first) -> None:
            with ThreadPoolExecutor(1) as executor:
                syncer = DiskSyncer(disk.sync, executor, clock=disk.clock)
                if slow_first:
                    disk.takes = 0.05
                    await syncer()
                disk.fails = OSError(5, "Input/output error")
                with pytest.raises(OSError, match="Input/output"):
                    await syncer()
                assert (syncer.threaded == 1) is slow_first

        asyncio.run(scenario())
