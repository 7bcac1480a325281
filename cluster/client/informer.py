"""Informers: list, then watch, keeping a local cache and telling a handler what changed.

Level-triggered, like client-go's reflector: the cache converges to the server's state whatever
happens to the stream. A watch that fails or ends resumes from the last resourceVersion seen; a
resourceVersion the server no longer has (Gone) triggers a relist, and the relist is diffed
against the cache so the handler hears about every add, update and delete it missed.

Handlers run on the informer's task and must be quick: they hand work on (enqueue a key), never
block. Callbacks get objects that the informer owns; handlers must not mutate them. One informer
may feed several handlers (a shared informer: the controller manager's controllers share one
watch per resource). With a `resync` period, every cached object is handed to the handlers again
as an update of itself, the safety net of level-triggered controllers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, cast

from cluster.api import resources
from cluster.api.resources import T
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Gone
from cluster.supervision import run_forever

log = logging.getLogger(__name__)
Key = tuple[str, str]


class EventHandler(Protocol):
    def on_add(self, obj: Any) -> None: ...
    def on_update(self, old: Any, new: Any) -> None: ...
    def on_delete(self, obj: Any) -> None: ...


def key_of(obj: Any) -> Key:
    return obj.metadata.namespace, obj.metadata.name


class Informer(Generic[T]):
    """Mirror of the objects a (resource, namespace, selectors) query matches."""

    def __init__(
        self,
        client: ApiClient,
        resource: resources.Resource,
        handler: EventHandler | None = None,
        *,
        namespace: str = "",
        label_selector: str = "",
        field_selector: str = "",
        backoff: tuple[float, float] = (0.2, 5.0),
        resync: float = 0.0,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        self._client = client
        self._resource = resource
        self._handlers: list[EventHandler] = [handler] if handler is not None else []
        self._resync = resync
        self._query: dict[str, str] = {
            "namespace": namespace,
            "label_selector": label_selector,
            "field_selector": field_selector,
        }
        self._backoff = backoff
        self._sleep = sleep
        self.cache: dict[Key, T] = {}
        self.synced = asyncio.Event()
        self.resource_version = ""

    def add_handler(self, handler: EventHandler) -> None:
        """One more handler of this informer's events (before `run()`)."""
        self._handlers.append(handler)

    def get(self, namespace: str, name: str) -> T | None:
        return self.cache.get((namespace, name))

    def items(self, namespace: str = "") -> list[T]:
        """The cached objects (of one namespace, if given)."""
        return [o for o in self.cache.values() if not namespace or o.metadata.namespace == namespace]

    async def run(self) -> None:
        """Keep the cache in sync until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            if self._resync:
                run_forever(tasks, f"{self._resource.name} resync", self._resync_loop())
            await self._sync()

    async def _resync_loop(self) -> None:
        await self.synced.wait()
        while True:
            await self._sleep(self._resync)
            for obj in list(self.cache.values()):
                self._emit("MODIFIED", obj, obj)

    async def _sync(self) -> None:
        delay = self._backoff[0]
        while True:
            try:
                if not self.resource_version:
                    await self._relist()
                await self._watch()
                delay = self._backoff[0]
            except Gone:
                log.info("%s watch expired at %s; relisting", self._resource.name, self.resource_version)
                self.resource_version = ""
            except ApiError as err:
                log.warning("%s informer: %s; retrying in %.1fs", self._resource.name, err, delay)
                await self._sleep(delay)
                delay = min(delay * 2, self._backoff[1])

    async def _relist(self) -> None:
        items, version = await self._client.list(
            self._resource,
            self._query["namespace"],
            label_selector=self._query["label_selector"],
            field_selector=self._query["field_selector"],
        )
        fresh: dict[Key, T] = {key_of(o): cast(T, o) for o in items}
        for key in [k for k in self.cache if k not in fresh]:
            self._emit("DELETED", self.cache.pop(key), None)
        for key, obj in fresh.items():
            old = self.cache.get(key)
            self.cache[key] = obj
            if old is None:
                self._emit("ADDED", obj, None)
            elif old.metadata.resource_version != obj.metadata.resource_version:
                self._emit("MODIFIED", obj, old)
        self.resource_version = version
        self.synced.set()

    async def _watch(self) -> None:
        async for kind, obj in self._client.watch(
            self._resource,
            self._query["namespace"],
            resource_version=self.resource_version,
            label_selector=self._query["label_selector"],
            field_selector=self._query["field_selector"],
            allow_bookmarks=True,
        ):
            self.resource_version = obj.metadata.resource_version
            if kind == "BOOKMARK":
                continue
            key = key_of(obj)
            if kind == "DELETED":
                old = self.cache.pop(key, None)
                self._emit("DELETED", obj, old)
            else:
                old = self.cache.get(key)
                self.cache[key] = cast(T, obj)
                self._emit("ADDED" if old is None else "MODIFIED", obj, old)

    def _emit(self, kind: str, obj: Any, old: Any) -> None:
        for handler in self._handlers:
            if kind == "ADDED":
                handler.on_add(obj)
            elif kind == "MODIFIED":
                handler.on_update(old, obj)
            else:
                handler.on_delete(obj)
