"""Two API servers over one store, as `up` places them on two hosts: a client that knows both
keeps working when the one it talks to stops, and a client that knows one says it is gone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cluster.api import resources
from cluster.apiserver.server import ApiServer
from cluster.client.api import ApiClient
from cluster.errors import Unavailable
from cluster.store.server import start_store_node
from tests.apiserver.test_api import pod
from tests.harness import TOKENS


def test_a_client_of_two_api_servers_moves_to_the_other_when_its_server_stops(tmp_path: Path) -> None:
    async def main() -> None:
        store = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        store_address = f"{store.address[0]}:{store.address[1]}"
        first = ApiServer(store_address, TOKENS, rest_port=0, peer_hosts=("127.0.0.1", "127.0.0.2"))
        second = ApiServer(store_address, TOKENS, rest_port=0, peer_hosts=("127.0.0.1", "127.0.0.2"))
        addresses = [await first.start(), await second.start()]
        running = [first, second]
        try:
            async with (
                ApiClient(addresses, "admin-token") as both,
                ApiClient(addresses[0], "admin-token") as one,
            ):
                await both.create(pod("before"))
                assert both.target == addresses[0]  # the first listed, while it serves
                watched = await both.list(resources.PODS, "default")
                await first.stop()
                running.remove(first)

                # the next call finds the first server gone and is served by the second, which
                # answers from the same store
                assert (await both.get(resources.PODS, "default", "before")).metadata.name == "before"
                assert both.target == addresses[1]
                await both.create(pod("after"))
                events = both.watch(resources.PODS, "default", resource_version=watched[1])
                kind, obj = await asyncio.wait_for(anext(events), 10)
                assert (kind, obj.metadata.name) == ("ADDED", "after")
                await events.aclose()
                with pytest.raises(Unavailable):  # one server, gone: said, not retried forever
                    await one.get(resources.PODS, "default", "before")
                # both servers wrote the same endpoints for the `kubernetes` Service
                endpoints = await both.get(resources.ENDPOINTS, "default", "kubernetes")
                assert [a.ip for a in endpoints.subsets[0].addresses] == ["127.0.0.1", "127.0.0.2"]
        finally:
            for server in running:
                await server.stop()
            await store.stop()

    asyncio.run(main())
