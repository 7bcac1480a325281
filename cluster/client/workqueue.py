"""A work queue of keys, as client-go's: deduplicated, one worker per key at a time, with
per-key exponential back-off for retries.

    key = await queue.get()          # a key nobody else is working on
    try:
        await sync(key)
        queue.forget(key)            # success: its back-off starts over
    except Exception:
        queue.add_rate_limited(key)  # again after 5 ms, 10 ms, ... up to max_delay
    finally:
        queue.done(key)              # a key added meanwhile is queued again now

A key added while it waits is not queued twice; one added while a worker has it is queued once
more when that worker is done, so the newest state is always synced after the last change.
Event-loop only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 30.0):
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()  # waiting to be processed
        self._processing: set[K] = set()
        self._failures: dict[K, int] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, key: K) -> None:
        if key in self._dirty:
            return
        self._dirty.add(key)
        if key not in self._processing:
            self._queue.append(key)
            self._ready.set()

    def add_after(self, key: K, delay: float) -> None:
        """Add `key` once `delay` seconds have passed (at once if `delay` <= 0)."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def add_rate_limited(self, key: K) -> None:
        """Add `key` after its back-off, which doubles with each call until `forget`."""
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, min(self._base_delay * 2**failures, self._max_delay))

    def retries(self, key: K) -> int:
        return self._failures.get(key, 0)

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    async def get(self) -> K:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._queue.append(key)
            self._ready.set()

    def close(self) -> None:
        """Cancel the delayed additions (the queue's owner is stopping)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
