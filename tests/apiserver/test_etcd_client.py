"""The API server's etcd client fails over between store members on UNAVAILABLE."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cluster.apiserver.etcd import EtcdStorage, KeyExists, StoreUnavailable
from cluster.bootstrap.ray_node import free_port
from cluster.store.server import start_store_node


def test_a_dead_member_is_skipped_and_a_live_one_answers(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        dead = f"127.0.0.1:{free_port()}"  # nothing listens here
        live = f"127.0.0.1:{node.address[1]}"
        storage = EtcdStorage([dead, live], backoff=0.01)
        try:
            revision = await storage.create("/k", b"v")
            assert storage.endpoint == live
            kv = await storage.get("/k")
            assert kv is not None and (kv.value, kv.mod_revision) == (b"v", revision)
            with pytest.raises(KeyExists):  # an answer, not a transport failure: not retried elsewhere
                await storage.create("/k", b"again")
        finally:
            await storage.close()
            await node.stop()

    asyncio.run(scenario())


def test_no_live_member_is_unavailable_after_the_retries(tmp_path: Path) -> None:
    async def scenario() -> None:
        members = [f"127.0.0.1:{free_port()}" for _ in range(2)]
        calls = 0

        async def endpoints() -> list[str]:
            nonlocal calls
            calls += 1
            return members

        storage = EtcdStorage(endpoints, attempts=4, backoff=0.01)
        with pytest.raises(StoreUnavailable):
            await storage.get("/k")
        assert calls == 2  # resolved again after trying every member once
        await storage.close()

    asyncio.run(scenario())
