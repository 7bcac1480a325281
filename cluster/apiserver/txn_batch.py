"""Group commit for the API server's store transactions: the Txns its concurrent requests issue
leave together, as one call of raykube's StoreKV.TxnBatch.

Why: a gRPC call costs Python about 0.2 ms of CPU on each side, more than the store spends on a
transaction itself, and every create, bind and status write is one. Under load many are issued
within a few milliseconds of each other; sent together, they share one call on both sides.

How: a Txn waits in `pending`; at most SENDERS calls are under way at once, and each takes
everything pending (at most MAX_BATCH) when it starts, so an idle server sends a lone Txn at once
and a busy one sends what gathered while the store answered the last batch. Each transaction
keeps its own outcome: the store applies each as if it had come alone. A batch that fails as a
whole fails each of its transactions as a lone Txn call would have; an item that provably was
not applied (no leader) is sent again alone, which retries on another member as a lone Txn does.
A store that does not serve TxnBatch (a real etcd: UNIMPLEMENTED) gets every Txn alone from then on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import Message

from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

MAX_BATCH = 128  # the store's limit (store.proto)
SENDERS = 4  # TxnBatch calls under way at once

Call = Callable[[str, Message], Awaitable[Any]]  # (method, request) -> response, or StorageError
Failure = Callable[[grpc.StatusCode, str], Exception]  # a failed item's status -> what to raise
NotApplied = Callable[[grpc.StatusCode, str], bool]  # whether a failure proves nothing was written
Pending = tuple[rpc_pb2.TxnRequest, asyncio.Future[rpc_pb2.TxnResponse]]
_CODES = {code.value[0]: code for code in grpc.StatusCode}  # a TxnOutcome's code number -> status


class Unimplemented(Exception):
    """The store does not serve the method (a real etcd and TxnBatch)."""


class TxnBatcher:
    def __init__(self, call: Call, failure: Failure, not_applied: NotApplied) -> None:
        self._call = call
        self._failure = failure
        self._not_applied = not_applied
        self._batching = True
        self._pending: list[Pending] = []
        self._senders = 0
        self._tasks: set[asyncio.Task[None]] = set()  # held until done
        self.batches = 0  # TxnBatch calls made, for tests and benchmarks

    async def txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        if not self._batching:
            response: rpc_pb2.TxnResponse = await self._call("Txn", request)
            return response
        future: asyncio.Future[rpc_pb2.TxnResponse] = asyncio.get_running_loop().create_future()
        self._pending.append((request, future))
        if self._senders < SENDERS:
            self._senders += 1
            self._spawn(self._send())
        return await future

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self) -> None:
        try:
            await asyncio.sleep(0)  # the requests of this turn of the loop come along
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if self._batching:
                    await self._send_batch(batch)
                else:
                    for pending in batch:
                        self._spawn(self._alone(*pending))
        finally:
            self._senders -= 1

    async def _send_batch(self, batch: list[Pending]) -> None:
        request = store_pb2.TxnBatchRequest(txns=[txn for txn, _ in batch])
        try:
            response: store_pb2.TxnBatchResponse = await self._call("TxnBatch", request)
        except Unimplemented:
            self._batching = False
            self._pending[:0] = batch  # sent alone, with whatever else waits
            return
        except Exception as failure:  # the call as a whole: each Txn fails as its own call would
            for _, future in batch:
                if not future.done():
                    future.set_exception(failure)
            return
        self.batches += 1
        for (txn, future), outcome in zip(batch, response.outcomes, strict=True):
            code = _CODES.get(outcome.code, grpc.StatusCode.UNKNOWN)
            if future.done():
                continue  # its request was cancelled
            if code is grpc.StatusCode.OK:
                future.set_result(outcome.response)
            elif self._not_applied(code, outcome.message):
                self._spawn(self._alone(txn, future))
            else:
                future.set_exception(self._failure(code, outcome.message))

    async def _alone(self, txn: rpc_pb2.TxnRequest, future: asyncio.Future[rpc_pb2.TxnResponse]) -> None:
        try:
            response = await self._call("Txn", txn)
        except Exception as failure:
            if not future.done():
                future.set_exception(failure)
            return
        if not future.done():
            future.set_result(response)
