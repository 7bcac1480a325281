"""What every controller shares: a work queue of object keys and workers that sync them.

A controller's event handlers only enqueue keys ("namespace/name"); its workers take a key and
call `sync(key)`, which compares desired with actual state, as seen by the shared informers, and
acts (level-triggered: it never relies on which event brought the key). A sync that fails with an
API error (a conflict, the API server unreachable) is retried with per-key back-off; anything else
is a bug, and ends the controller manager (which its host then restarts).
"""

from __future__ import annotations

import abc
import asyncio
import logging

from cluster.client.workqueue import WorkQueue
from cluster.errors import ApiError
from cluster.supervision import run_forever

log = logging.getLogger(__name__)


def key_of(namespace: str, name: str) -> str:
    return f"{namespace}/{name}" if namespace else name


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


class Controller(abc.ABC):
    name: str = "controller"
    workers: int = 2

    def __init__(self) -> None:
        self.queue: WorkQueue[str] = WorkQueue()

    async def run(self) -> None:
        """Sync queued keys until cancelled."""
        try:
            async with asyncio.TaskGroup() as tasks:
                for i in range(self.workers):
                    run_forever(tasks, f"{self.name} worker {i}", self._work())
        finally:
            self.queue.close()

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except ApiError as err:
                log.info("%s: syncing %s failed (%s: %s); retrying", self.name, key, type(err).__name__, err)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    @abc.abstractmethod
    async def sync(self, key: str) -> None:
        """Bring the object `key` names (or its absence) in line with the cluster."""
