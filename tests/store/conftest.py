"""Fixtures for the store's tests: a store node on its own event-loop thread, a fake clock.

The node runs in a background thread so tests can drive it with the ordinary synchronous gRPC
stubs and real subprocess clients (etcdctl); `StoreThread.stop()` shuts it down cleanly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import grpc
import pytest

from cluster.store.server import StoreNode, StoreOptions, start_store_node

T = TypeVar("T")


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class StoreThread:
    def __init__(self, data_dir: Path, options: StoreOptions | None = None) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="store-node", daemon=True)
        self._thread.start()
        self.node: StoreNode = self.run(lambda: start_store_node(data_dir, "127.0.0.1", 0, options))
        self.target = f"{self.node.address[0]}:{self.node.address[1]}"

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        """Run a coroutine on the node's loop and wait for its result."""

        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.target)

    def stop(self) -> None:
        self.run(self.node.stop)
        self.run(_settle)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _settle() -> None:
    """Let tasks that are finishing (gRPC's own, for RPCs the stop cancelled) end before the loop closes."""
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=5)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[StoreThread]:
    node = StoreThread(tmp_path / "store", StoreOptions(clock=clock, lease_tick=0.01, progress_interval=5.0))
    yield node
    node.stop()


@pytest.fixture
def channel(store: StoreThread) -> Iterator[grpc.Channel]:
    with store.channel() as ch:
        yield ch
