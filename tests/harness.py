"""A real control plane for tests, in-process: raykube's store and API server on loopback ports.

No fakes: the same `start_store_node` and `ApiServer` the Ray actors run. Use
`control_plane(tmp_path)` as an async context manager inside a test's event loop, or
`ControlPlaneThread` when the test itself must stay synchronous (the CLI runs its own loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cluster.apiserver.auth import (
    ADMIN_GROUP,
    CONTROLLER_MANAGER_USER,
    NODE_USER_PREFIX,
    NODES_GROUP,
    PROXY_USER,
    SCHEDULER_USER,
    UserInfo,
)
from cluster.apiserver.server import ApiServer
from cluster.client.api import ApiClient
from cluster.store.server import start_store_node

T = TypeVar("T")
TOKENS = {
    "admin-token": UserInfo("admin", "admin", frozenset({ADMIN_GROUP})),
    "scheduler-token": UserInfo(SCHEDULER_USER, SCHEDULER_USER),
    "controller-manager-token": UserInfo(CONTROLLER_MANAGER_USER, CONTROLLER_MANAGER_USER),
    "proxy-token": UserInfo(PROXY_USER, PROXY_USER),
    "node-1-token": UserInfo(NODE_USER_PREFIX + "node-1", "", frozenset({NODES_GROUP})),
    "nobody-token": UserInfo("nobody"),
}


@dataclass
class ControlPlane:
    address: str
    store_address: str
    api: ApiServer

    def client(self, token: str = "admin-token") -> ApiClient:
        return ApiClient(self.address, token)

    @property
    def rest_url(self) -> str:
        """The REST side's base URL (plain HTTP on loopback in tests)."""
        return f"http://{self.api.rest_address}"


@contextlib.asynccontextmanager
async def control_plane(data_dir: Path, **api_options: Any) -> AsyncIterator[ControlPlane]:
    store = await start_store_node(data_dir / "store", "127.0.0.1", 0)
    store_address = f"{store.address[0]}:{store.address[1]}"
    api = ApiServer(store_address, TOKENS, **{"rest_port": 0, **api_options})
    address = await api.start()
    try:
        yield ControlPlane(address, store_address, api)
    finally:
        await api.stop()
        await store.stop()


@contextlib.asynccontextmanager
async def background(*loops: Coroutine[Any, Any, Any]) -> AsyncIterator[None]:
    """Run `loops` (components' run() coroutines) while the block runs; cancel them after it.
    A loop that fails fails the block."""
    async with asyncio.TaskGroup() as tasks:
        running = [tasks.create_task(loop) for loop in loops]
        try:
            yield
        finally:
            for task in running:
                task.cancel()


class ControlPlaneThread:
    """The control plane on a background event loop, for synchronous tests."""

    def __init__(self, data_dir: Path):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="control-plane", daemon=True)
        self._thread.start()
        self._context = control_plane(data_dir)
        self.plane: ControlPlane = self.run(self._context.__aenter__)
        self.address = self.plane.address

    def run(self, make: Callable[[], Awaitable[T]], timeout: float = 30) -> T:
        async def wrapped() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout)

    def stop(self) -> None:
        self.run(lambda: self._context.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
