"""The one Ray actor every raykube component runs in.

A component (store replica, API server, scheduler, kubelet) is a plain object with
`async start() -> address` and `async stop()`; it knows nothing of Ray. `ComponentHost` starts it
from `__init__` (Ray async actors have a running event loop there), so when Ray restarts a dead
actor (`max_restarts`), the component starts again without anyone asking. Other components find
it by its actor name and ask for `address()`: that is the only thing Ray carries between them;
everything else goes over gRPC.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

NAMESPACE = "raykube"
log = logging.getLogger(__name__)


class Component(Protocol):
    async def start(self) -> str:
        """Start serving; the gRPC address it serves on ("" if it serves nothing)."""
        ...

    async def stop(self) -> None: ...


def config_digest(kind: str, config: dict[str, Any]) -> str:
    """Identifies a component's configuration, so `raykube up` can tell a running actor is outdated."""
    return hashlib.sha256(json.dumps([kind, config], sort_keys=True).encode()).hexdigest()


class ComponentHost:
    """Hosts one component inside a Ray actor (wrapped with ray.remote by the launcher)."""

    def __init__(self, kind: str, config: dict[str, Any]):
        logging.basicConfig(
            level=logging.INFO, format=f"%(asctime)s {kind} %(levelname)s %(name)s: %(message)s"
        )
        from cluster.bootstrap.components import build  # imports every component: only inside the actor

        self._kind = kind
        self._digest = config_digest(kind, config)
        self._component = build(kind, config)
        loop = asyncio.get_running_loop()
        self._address: asyncio.Future[str] = loop.create_future()
        self._starting = loop.create_task(self._start(), name=f"{kind}-start")

    async def _start(self) -> None:
        try:
            self._address.set_result(await self._component.start())
        except Exception as err:  # reported to whoever asks for the address, and logged here
            log.exception("%s failed to start", self._kind)
            self._address.set_exception(err)

    async def address(self) -> str:
        return await asyncio.shield(self._address)

    async def digest(self) -> str:
        return self._digest

    async def info(self) -> dict[str, Any]:
        """Where this component runs, for `raykube up`'s table and for tests."""
        return {
            "kind": self._kind,
            "address": await self.address(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }

    async def invoke(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call an async method of the component (e.g. the kubelet's shutdown, fault injection in tests)."""
        await self.address()
        handler: Callable[..., Awaitable[Any]] = getattr(self._component, method)
        return await handler(*args, **kwargs)

    async def stop(self) -> None:
        await self._component.stop()
