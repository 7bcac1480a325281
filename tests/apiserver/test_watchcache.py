"""The watch cache's pinned watchers (a kubelet's "pods on my node"), over a real store node: they
get their own events from the writer, so other values' events neither cost them a look nor push
them out of the window; one that stops reading for more than a window of its own events is Gone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cluster.apiserver.etcd import EtcdStorage
from cluster.apiserver.watchcache import WatchCache
from cluster.errors import Gone
from cluster.store.server import start_store_node
from raykube.v1 import pod_pb2

PREFIX = "/t/pods/"
Batch = list[tuple[str, Any, int]]


def decode(data: bytes, revision: int) -> pod_pb2.Pod:
    pod = pod_pb2.Pod.FromString(data)
    pod.metadata.resource_version = str(revision)
    return pod


def on(node: str) -> Callable[[pod_pb2.Pod], bool]:
    return lambda pod: pod.spec.node_name == node


async def put(storage: EtcdStorage, name: str, node: str) -> int:
    pod = pod_pb2.Pod()
    pod.metadata.name, pod.spec.node_name = name, node
    return await storage.create(PREFIX + name, pod.SerializeToString())


def run(
    tmp_path: Path, scenario: Callable[[WatchCache, EtcdStorage], Awaitable[None]], window: int = 3
) -> None:
    async def main() -> None:
        node = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        storage = EtcdStorage(f"127.0.0.1:{node.address[1]}")
        cache = WatchCache(storage, PREFIX, decode, index=lambda pod: pod.spec.node_name, window=window)
        feeding = asyncio.create_task(cache.run())
        try:
            await cache.wait_ready()
            await scenario(cache, storage)
        finally:
            feeding.cancel()
            await storage.close()
            await node.stop()

    asyncio.run(main())


async def caught_up(cache: WatchCache, revision: int) -> None:
    while cache.revision < revision:
        await asyncio.sleep(0.01)


async def following(stream: AsyncIterator[Batch]) -> Batch:
    return await asyncio.wait_for(anext(stream), 5)


def test_a_pinned_watch_gets_its_own_events_however_many_others_pass_the_window(tmp_path: Path) -> None:
    async def scenario(cache: WatchCache, storage: EtcdStorage) -> None:
        start = cache.revision
        await put(storage, "mine-0", "n1")
        await put(storage, "theirs-0", "n2")
        stream = cache.watch(start, on("n1"), trigger="n1")  # from before both: catches up on its own
        assert [(kind, pod.metadata.name) for kind, pod, _ in await following(stream)] == [
            ("ADDED", "mine-0")
        ]
        for i in range(1, 9):  # eight more events than the window holds, none of them for n1
            last = await put(storage, f"theirs-{i}", "n2")
        await caught_up(cache, last)
        assert cache.window_start > start + 2  # the window has moved past where the watch was
        created = await put(storage, "mine-1", "n1")
        assert [(kind, pod.metadata.name, rev) for kind, pod, rev in await following(stream)] == [
            ("ADDED", "mine-1", created)
        ]
        await stream.aclose()

    run(tmp_path, scenario)


def test_a_pinned_watch_that_stops_reading_for_more_than_a_window_is_gone(tmp_path: Path) -> None:
    async def scenario(cache: WatchCache, storage: EtcdStorage) -> None:
        stream = cache.watch(cache.revision, on("n1"), trigger="n1")
        await put(storage, "mine-0", "n1")
        assert len(await following(stream)) == 1
        for i in range(1, 5):  # four of its own events unread, a window of three
            last = await put(storage, f"mine-{i}", "n1")
        await caught_up(cache, last)
        with pytest.raises(Gone, match="too old resource version"):
            await following(stream)

    run(tmp_path, scenario)


def test_a_pinned_watch_bookmarks_the_latest_revision_when_nothing_concerns_it(tmp_path: Path) -> None:
    async def scenario(cache: WatchCache, storage: EtcdStorage) -> None:
        stream = cache.watch(cache.revision, on("n1"), trigger="n1", bookmark_every=0.2)
        mine = await put(storage, "mine", "n1")
        assert [(kind, rev) for kind, _, rev in await following(stream)] == [("ADDED", mine)]
        last = await put(storage, "theirs", "n2")
        await caught_up(cache, last)
        assert await following(stream) == [("BOOKMARK", None, last)]  # up to date with every write
        await stream.aclose()

    run(tmp_path, scenario, window=100)
