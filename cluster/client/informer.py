"""Informers: list, then watch, keeping a local cache and telling a handler what changed.

Level-triggered, like client-go's reflector: the cache converges to the server's state whatever
happens to the stream. A watch that fails or ends resumes from the last resourceVersion seen; a
resourceVersion the server no longer has (Gone) triggers a relist, and the relist is diffed
against the cache so the handler hears about every add, update and delete it missed.

Handlers run on the informer's task and must be quick: they hand work on (enqueue a key), never
block. Callbacks get objects that the informer owns; handlers must not mutate them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar, cast

from cluster.api import resources
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Gone
from raykube.v1 import node_pb2, pod_pb2

log = logging.getLogger(__name__)
T = TypeVar("T", pod_pb2.Pod, node_pb2.Node)
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
        sleep: Callable[[float], Any] = asyncio.sleep,
    ):
        self._client = client
        self._resource = resource
        self._handler = handler
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

    def get(self, namespace: str, name: str) -> T | None:
        return self.cache.get((namespace, name))

    def items(self) -> list[T]:
        return list(self.cache.values())

    async def run(self) -> None:
        """Keep the cache in sync until cancelled."""
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
        if self._handler is None:
            return
        if kind == "ADDED":
            self._handler.on_add(obj)
        elif kind == "MODIFIED":
            self._handler.on_update(old, obj)
        else:
            self._handler.on_delete(obj)
