"""The API server's transaction batches on a StoreKV.TxnStream: answers matched by id whatever their
order, failures that reach every waiting batch, a retired stream that still answers, the store's
own limit, and an older store (no TxnStream) that gets its batches as TxnBatch calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from cluster.apiserver.etcd import EtcdStorage
from cluster.apiserver.txn_stream import TxnStream
from cluster.store.server import start_store_node
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc

Stream = Callable[[AsyncIterator[store_pb2.TxnBatchRequest], grpc.aio.ServicerContext], AsyncIterator[object]]


def batch(*keys: str) -> store_pb2.TxnBatchRequest:
    return store_pb2.TxnBatchRequest(txns=[
        rpc_pb2.TxnRequest(success=[rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=k.encode()))]) for k in keys
    ])  # fmt: skip


def answer(request: store_pb2.TxnBatchRequest, revision: int) -> store_pb2.TxnBatchResponse:
    """A response whose revisions say which request it answers."""
    response = store_pb2.TxnBatchResponse(id=request.id)
    for _ in request.txns:
        outcome = response.outcomes.add()
        outcome.response.succeeded, outcome.response.header.revision = True, revision
    return response


async def serving(handlers: dict[str, grpc.RpcMethodHandler]) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler("raykube.store.v1.StoreKV", handlers)]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


def stream_handler(stream: Stream) -> grpc.RpcMethodHandler:
    return grpc.stream_stream_rpc_method_handler(
        stream,
        request_deserializer=store_pb2.TxnBatchRequest.FromString,
        response_serializer=store_pb2.TxnBatchResponse.SerializeToString,
    )


def with_stream(stream: Stream, scenario: Callable[[TxnStream], Awaitable[None]]) -> None:
    async def main() -> None:
        server, target = await serving({"TxnStream": stream_handler(stream)})
        async with grpc.aio.insecure_channel(target) as channel:
            txns = TxnStream(store_pb2_grpc.StoreKVStub(channel))
            try:
                await scenario(txns)
            finally:
                txns.close()
        await server.stop(None)

    asyncio.run(main())


def test_answers_are_matched_to_their_batches_by_id_whatever_their_order() -> None:
    async def reversing(
        requests: AsyncIterator[store_pb2.TxnBatchRequest], _: object
    ) -> AsyncIterator[object]:
        held = [await anext(requests), await anext(requests)]
        for request in reversed(held):
            yield answer(request, revision=len(request.txns))

    async def scenario(txns: TxnStream) -> None:
        one, two = await asyncio.gather(txns.batch(batch("a"), 5), txns.batch(batch("b", "c"), 5))
        assert [o.response.header.revision for o in one.outcomes] == [1]
        assert [o.response.header.revision for o in two.outcomes] == [2, 2]

    with_stream(reversing, scenario)


def test_a_broken_stream_fails_every_waiting_batch_and_the_next_at_once() -> None:
    async def breaking(requests: AsyncIterator[store_pb2.TxnBatchRequest], context: grpc.aio.ServicerContext) -> AsyncIterator[object]:  # fmt: skip
        await anext(requests)
        await anext(requests)
        await context.abort(grpc.StatusCode.UNAVAILABLE, "the member is going away")
        yield  # a generator: a stream handler

    async def scenario(txns: TxnStream) -> None:
        outcomes = await asyncio.gather(
            txns.batch(batch("a"), 5), txns.batch(batch("b"), 5), return_exceptions=True
        )
        assert [(o.code(), o.details()) for o in outcomes if isinstance(o, grpc.aio.AioRpcError)] == [
            (grpc.StatusCode.UNAVAILABLE, "the member is going away")] * 2  # fmt: skip
        with pytest.raises(grpc.aio.AioRpcError) as later:
            await txns.batch(batch("c"), 5)
        assert later.value.code() == grpc.StatusCode.UNAVAILABLE

    with_stream(breaking, scenario)


def test_a_batch_without_an_answer_in_its_timeout_fails_as_deadline_exceeded() -> None:
    async def silent(requests: AsyncIterator[store_pb2.TxnBatchRequest], _: object) -> AsyncIterator[object]:
        async for _request in requests:
            pass
        yield  # a generator: a stream handler

    async def scenario(txns: TxnStream) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as late:
            await txns.batch(batch("a"), 0.2)
        assert late.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED

    with_stream(silent, scenario)


def test_a_retired_stream_answers_what_it_was_sent_then_ends() -> None:
    async def slow(requests: AsyncIterator[store_pb2.TxnBatchRequest], _: object) -> AsyncIterator[object]:
        async for request in requests:
            await asyncio.sleep(0.2)
            yield answer(request, revision=7)

    async def scenario(txns: TxnStream) -> None:
        waiting = asyncio.ensure_future(txns.batch(batch("a"), 5))
        await asyncio.sleep(0.05)  # sent
        txns.retire()
        assert [o.response.header.revision for o in (await waiting).outcomes] == [7]
        for _ in range(100):
            if txns.failure is not None:
                break
            await asyncio.sleep(0.02)
        assert txns.failure is not None and txns.failure.code() == grpc.StatusCode.UNAVAILABLE  # ended

    with_stream(slow, scenario)


def test_the_store_ends_a_stream_that_sends_more_than_a_batch_allows(tmp_path: Path) -> None:
    async def main() -> None:
        node = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{node.address[1]}") as channel:
                txns = TxnStream(store_pb2_grpc.StoreKVStub(channel))
                done = await txns.batch(batch("/a", "/b"), 5)  # a real store answers
                assert [o.code for o in done.outcomes] == [0, 0] and done.outcomes[
                    1
                ].response.header.revision > 1
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await txns.batch(batch(*(f"/k{i}" for i in range(129))), 5)
                assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert "at most 128 transactions in a batch, got 129" in (refused.value.details() or "")
        finally:
            await node.stop()

    asyncio.run(main())


def test_a_store_without_txn_stream_gets_the_batches_as_calls() -> None:
    called: list[int] = []

    async def txn_batch(request: store_pb2.TxnBatchRequest, _: object) -> store_pb2.TxnBatchResponse:
        called.append(len(request.txns))
        return answer(request, revision=40 + len(called))

    async def main() -> None:
        unary = grpc.unary_unary_rpc_method_handler(
            txn_batch,
            request_deserializer=store_pb2.TxnBatchRequest.FromString,
            response_serializer=store_pb2.TxnBatchResponse.SerializeToString,
        )
        server, target = await serving({"TxnBatch": unary})  # TxnStream: UNIMPLEMENTED
        storage = EtcdStorage(target)
        try:
            assert await storage.create("/a", b"v") == 41
            assert await storage.create("/b", b"v") == 42
            assert called == [1, 1]  # each a TxnBatch call: the store said it has no TxnStream
        finally:
            await storage.close()
            await server.stop(None)

    asyncio.run(main())
