"""Where a replica waits for its fsync: on the event loop when the disk is fast, else in a thread.

Every Ready ends in one `storage.sync()` (the WAL write and its fsync). Handed to a thread, the
event loop serves requests while the disk works, which is what a slow disk needs (an fsync of
several milliseconds would stall every client). But the hand-over has its own price, paid on
every Ready: a wake-up of the disk thread, one of the loop when it is done, and the executor's
bookkeeping. Measured on this project's 2-core test machine (ext4 on virtio), an fsync takes
~0.12 ms and 55 us of CPU, less than the hand-over itself; perf counted 28 context switches per
lease renewal on the store leader.

So the syncer keeps a moving average of how long the syncs themselves take (timed where they
run) and runs a sync on the loop while that average is under `inline_below` (1 ms: a pause
comparable to serving one request), in the thread otherwise. A disk that slows down (one long
fsync is enough to tip the average) moves the syncs back to the thread, and they come back to
the loop once it is fast again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

INLINE_BELOW = 0.001  # seconds
SMOOTHING = 0.2  # weight of the newest sync's duration in the average


class DiskSyncer:
    def __init__(
        self,
        sync: Callable[[], None],
        executor: ThreadPoolExecutor,
        *,
        inline_below: float = INLINE_BELOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sync = sync
        self._executor = executor
        self._inline_below = inline_below
        self._clock = clock
        self.average = 0.0  # seconds a sync takes lately
        self.inline = 0  # syncs run on the loop, since start (for tests)
        self.threaded = 0  # ... and in the thread

    async def __call__(self) -> None:
        """Make every write so far durable."""
        if self.average < self._inline_below:
            self.inline += 1
            took = self._timed()
        else:
            self.threaded += 1
            took = await asyncio.get_running_loop().run_in_executor(self._executor, self._timed)
        self.average += SMOOTHING * (took - self.average)

    def _timed(self) -> float:
        started = self._clock()
        self._sync()
        return self._clock() - started
