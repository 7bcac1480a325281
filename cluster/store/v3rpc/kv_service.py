"""etcd's KV service (Range, Put, DeleteRange, Txn, Compact) over a Replicator, and raykube's
StoreKV beside it: TxnBatch (several Txns in one call, each as if sent alone) and TxnStream (the
same batches as messages of one stream).

Every request is checked at the edge (cluster/store/validation.py) before it can take a log
slot. Writes go through `Replicator.propose`; reads (Range, and txns that write nothing) wait
for `Replicator.read_barrier` and then read the local state machine, as etcd serves them.
Runs on the node's event loop, like everything that touches the state machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from cluster.serving import answered
from cluster.store.errors import StoreError
from cluster.store.mvcc.state_machine import StateMachine
from cluster.store.mvcc.validation import check_delete, check_put, check_range, check_txn, txn_writes
from cluster.store.replication.replicator import Replicator
from cluster.store.v3rpc.rpc import Context, Headers, unary, write
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.store.v1 import store_pb2, store_pb2_grpc

MAX_BATCH = 128  # transactions in one TxnBatch (store.proto)
MAX_BATCHES_IN_FLIGHT = 64  # per TxnStream (store.proto)


class KVService(rpc_pb2_grpc.KVServicer):
    def __init__(self, machine: StateMachine, replicator: Replicator, headers: Headers) -> None:
        self._machine = machine
        self._replicator = replicator
        self._headers = headers

    @unary
    async def Range(self, request: rpc_pb2.RangeRequest, context: Context) -> rpc_pb2.RangeResponse:
        check_range(request)
        await self._replicator.read_barrier(request.serializable)
        resp = self._machine.range(request)
        self._headers.fill(resp.header)
        return resp

    @unary
    async def Put(self, request: rpc_pb2.PutRequest, context: Context) -> rpc_pb2.PutResponse:
        check_put(request)
        return await write(self._replicator, self._headers, store_pb2.Entry(put=request), rpc_pb2.PutResponse)

    @unary
    async def DeleteRange(
        self, request: rpc_pb2.DeleteRangeRequest, context: Context
    ) -> rpc_pb2.DeleteRangeResponse:
        check_delete(request)
        return await write(
            self._replicator,
            self._headers,
            store_pb2.Entry(delete_range=request),
            rpc_pb2.DeleteRangeResponse,
        )

    @unary
    async def Txn(self, request: rpc_pb2.TxnRequest, context: Context) -> rpc_pb2.TxnResponse:
        return await self.txn(request)

    async def txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        """One transaction, checked, proposed (or read) and answered; a StoreError says why not."""
        check_txn(request)
        if not txn_writes(request):
            await self._replicator.read_barrier(False)
            resp = self._machine.read_txn(request)
            self._headers.fill(resp.header)
            return resp
        return await write(self._replicator, self._headers, store_pb2.Entry(txn=request), rpc_pb2.TxnResponse)

    @unary
    async def Compact(
        self, request: rpc_pb2.CompactionRequest, context: Context
    ) -> rpc_pb2.CompactionResponse:
        return await write(
            self._replicator, self._headers, store_pb2.Entry(compaction=request), rpc_pb2.CompactionResponse
        )


class StoreKVService(store_pb2_grpc.StoreKVServicer):
    def __init__(self, kv: KVService) -> None:
        self._kv = kv

    async def TxnBatch(
        self, request: store_pb2.TxnBatchRequest, context: Context
    ) -> store_pb2.TxnBatchResponse:
        if len(request.txns) > MAX_BATCH:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _too_many(request))
        return await self._batch(request)

    async def TxnStream(
        self, requests: AsyncIterator[store_pb2.TxnBatchRequest], context: Context
    ) -> AsyncIterator[store_pb2.TxnBatchResponse]:
        """Each batch runs as its own task, as a TxnBatch call would; its response goes as soon as
        it is done. A batch over the limit ends the stream (INVALID_ARGUMENT), as it fails a call."""

        async def checked() -> AsyncIterator[store_pb2.TxnBatchRequest]:
            async for request in requests:
                if len(request.txns) > MAX_BATCH:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, _too_many(request))
                yield request

        async for responses in answered(checked(), self._batch, MAX_BATCHES_IN_FLIGHT):
            for response in responses:
                yield response

    async def _batch(self, request: store_pb2.TxnBatchRequest) -> store_pb2.TxnBatchResponse:
        outcomes = await asyncio.gather(*(self._outcome(txn) for txn in request.txns))
        return store_pb2.TxnBatchResponse(outcomes=outcomes, id=request.id)

    async def _outcome(self, txn: rpc_pb2.TxnRequest) -> store_pb2.TxnOutcome:
        try:
            return store_pb2.TxnOutcome(response=await self._kv.txn(txn))
        except StoreError as err:
            return store_pb2.TxnOutcome(code=err.code.value[0], message=err.text)


def _too_many(request: store_pb2.TxnBatchRequest) -> str:
    return f"at most {MAX_BATCH} transactions in a batch, got {len(request.txns)}"
