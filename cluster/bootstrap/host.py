"""The one Ray actor every raykube component runs in, and the supervision policy around it.

`ComponentHost` starts its component from `__init__` (Ray async actors have a running event loop
there), so when Ray restarts a dead actor (`max_restarts`), the component starts again without
anyone asking. Other components find it by its actor name and ask for `address()`: that is the
only thing Ray carries between them; everything else goes over gRPC.

The host owns the component's work, one task running `component.run(ready)`, and that work must
not end while the host lives. If it fails (raises, or returns, or is cancelled by anyone but
`stop()`), the host logs the failure with its traceback and exits the process, so that Ray
restarts the actor, rather than living on doing nothing. A component that fails before it is
ready reports why to whoever waits for its address, and the host pauses before exiting, so a
broken configuration restarts every few seconds instead of in a tight loop (CrashLoopBackOff).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from cluster import gc_policy, supervision
from cluster.bootstrap.components import Component, Drains, build
from cluster.bootstrap.settings import ComponentSpec, Settings

log = logging.getLogger(__name__)
PAUSE_AFTER_FAILED_START = 5.0  # seconds


class ComponentFailed(RuntimeError):
    """The component failed before it was ready; the message says why."""


def kind_of(settings: Settings) -> str:
    """The component's kind, for logs and `raykube up`'s table: StoreSettings -> "store"."""
    return type(settings).__name__.removesuffix("Settings").lower()


class ComponentHost:
    """Hosts one component inside a Ray actor (wrapped with ray.remote by the launcher).

    `build`, `exit`, `pause_after_failed_start` and `collector` are seams for tests; in an actor
    the host exits with os._exit, the one way out that Ray counts as a crash and restarts, and
    tunes the process's garbage collector (cluster/gc_policy.py).
    """

    def __init__(
        self,
        spec: ComponentSpec,
        *,
        build: Callable[[Settings], Component] = build,
        exit: Callable[[int], Any] = os._exit,
        pause_after_failed_start: float = PAUSE_AFTER_FAILED_START,
        collector: gc_policy.Collector | None = None,
    ):
        self._kind = kind_of(spec.settings)
        logging.basicConfig(
            level=logging.INFO, format=f"%(asctime)s {self._kind} %(levelname)s %(name)s: %(message)s"
        )
        self._digest = spec.digest()
        self._collector = collector or gc_policy.Collector()
        self._collector.serving()
        self._component = build(spec.settings)
        self._exit = exit
        self._pause = pause_after_failed_start
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._address: asyncio.Future[str] = loop.create_future()
        self._work = loop.create_task(self._supervise(), name=f"host of {self._kind}")

    def _ready(self, address: str) -> None:
        if not self._address.done():
            self._address.set_result(address)
            self._collector.ready()
            log.info("%s ready at %s", self._kind, address or "(serves nothing)")

    async def _supervise(self) -> None:
        try:
            await self._component.run(self._ready)
            failure: BaseException = supervision.LoopEnded(f"the {self._kind} stopped working")
        except asyncio.CancelledError as cancelled:
            if self._stopping:
                raise
            failure = cancelled
        except Exception as err:
            failure = err
        if self._stopping:
            return
        if self._address.done():
            log.critical("%s failed; exiting for Ray to restart it", self._kind, exc_info=failure)
        else:
            log.critical("%s failed to start; exiting for Ray to restart it", self._kind, exc_info=failure)
            self._address.set_exception(ComponentFailed(f"{self._kind} failed to start: {failure!r}"))
            await asyncio.sleep(self._pause)  # those waiting for the address hear why first
        for handler in logging.getLogger().handlers:
            handler.flush()
        self._exit(1)

    async def address(self) -> str:
        return await asyncio.shield(self._address)

    async def digest(self) -> str:
        return self._digest

    async def info(self) -> dict[str, Any]:
        """Where this component runs, for `raykube up`'s table and for tests."""
        address = await self.address()  # ready first: what a component reports is known by then
        extra: dict[str, Any] = getattr(self._component, "extra_info", dict)()  # e.g. the REST address
        return {
            "kind": self._kind,
            "address": address,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            **extra,
        }

    async def stop(self, drain: bool = False) -> None:
        """Stop the component for good (`raykube down`); `drain`: first remove what would outlive
        it (a kubelet's containers)."""
        self._stopping = True
        if drain and isinstance(self._component, Drains):
            self._component.drain()
        self._work.cancel()
        await asyncio.wait([self._work])

    async def inject_crash(self, task: str) -> int:
        """TEST ONLY: make the named loop of this component fail as a bug would (supervision.py), a
        moment after this returns: the caller gets its answer before the host exits."""
        return supervision.inject_crash(task, delay=0.2)
