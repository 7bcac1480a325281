"""Binds in batches: one BindMany round trip carries every bind decided while earlier ones were
in flight (group commit, as the store does with proposals).

At most `max_in_flight` requests of at most `max_batch` binds are outstanding (more in flight
would only queue in the API server and the store, in front of everyone else's requests, leader
election renewals included). A bind that finds a free slot sends everything pending, and keeps
sending what piled up meanwhile; a bind that finds none waits for a sender to take it along. At
low load each bind goes alone, at once; under load batches grow to what accumulates during a
round trip. Each bind's outcome is its own (the bound pod's resourceVersion, or the ApiError a
single Bind would have raised); a request that fails as a whole fails each bind in it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from cluster.errors import ApiError
from raykube.v1 import api_pb2


class BindManyApi(Protocol):
    async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> Sequence[str | ApiError]: ...


class BatchingBinder:
    def __init__(self, api: BindManyApi, *, max_in_flight: int = 2, max_batch: int = 64):
        self._api = api
        self._max_in_flight = max_in_flight
        self._max_batch = max_batch
        self._pending: list[tuple[api_pb2.BindRequest, asyncio.Future[str]]] = []
        self._in_flight = 0

    async def bind(
        self, namespace: str, name: str, node_name: str, *, uid: str = "", resource_version: str = ""
    ) -> str:
        """Bind one pod (raises ApiClient.bind's ApiError); returns its new resourceVersion."""
        request = api_pb2.BindRequest(
            namespace=namespace, name=name, node_name=node_name,
            preconditions=api_pb2.Preconditions(uid=uid, resource_version=resource_version),
        )  # fmt: skip
        outcome: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending.append((request, outcome))
        if self._in_flight < self._max_in_flight:
            try:
                await self._send()
            except BaseException:
                if outcome.done() and not outcome.cancelled():
                    outcome.exception()  # the same failure, raised here: not left unretrieved
                raise
        return await outcome

    async def _send(self) -> None:
        self._in_flight += 1
        batch: list[tuple[api_pb2.BindRequest, asyncio.Future[str]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
                try:
                    results = await self._api.bind_many([request for request, _ in batch])
                except ApiError as err:
                    results = [err] * len(batch)
                for (_, outcome), result in zip(batch, results, strict=True):
                    if isinstance(result, ApiError):
                        outcome.set_exception(result)
                    else:
                        outcome.set_result(result)
                batch = []
        except BaseException as err:  # a bug or cancellation: nobody may wait forever
            for _, outcome in batch + self._pending:
                if not outcome.done():
                    outcome.set_exception(err if isinstance(err, Exception) else ApiError("binding stopped"))
            self._pending = []
            raise
        finally:
            self._in_flight -= 1
