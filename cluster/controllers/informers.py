"""Shared informers: one list+watch per resource, whatever number of controllers read it."""

from __future__ import annotations

import asyncio
from typing import Any

from cluster.api import resources
from cluster.client.api import ApiClient
from cluster.client.informer import Informer
from cluster.supervision import run_forever


class SharedInformers:
    def __init__(self, client: ApiClient, *, resync: float = 30.0):
        self._client = client
        self._resync = resync
        self._informers: dict[str, Informer[Any]] = {}

    def __getitem__(self, resource: resources.Resource[resources.T]) -> Informer[resources.T]:
        """The informer of `resource` (made on first use; before `run()`)."""
        informer = self._informers.get(resource.name)
        if informer is None:
            informer = Informer(self._client, resource, resync=self._resync)
            self._informers[resource.name] = informer
        return informer

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for name, informer in self._informers.items():
                run_forever(tasks, f"{name} informer", informer.run())

    async def synced(self) -> None:
        """Return once every informer has listed."""
        await asyncio.gather(*(i.synced.wait() for i in self._informers.values()))
