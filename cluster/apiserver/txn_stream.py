"""The API server's transaction batches as messages of one StoreKV.TxnStream per store channel.

Why: a unary gRPC call costs Python ~0.2 ms of CPU on each side and wakes both processes' threads
several times, more than the store spends applying a small batch; a message on a stream that is
already open costs a tenth of that. With the group commit of txn_batch.py a busy API server sends
a few hundred batches a second, and an idle one still sends every node's lease renewal alone.

How: each batch gets an id and a future; writes are serialized (gRPC allows one at a time per
stream); one reader resolves the futures by the ids of the responses, which come as the store
finishes them. A batch without a response in its timeout fails with DEADLINE_EXCEEDED; a broken
stream fails every batch waiting on it with the stream's own error, as each would have failed as a
call of its own (the caller's failover then opens the next member's channel and a new stream).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

import grpc

from raykube.store.v1 import store_pb2, store_pb2_grpc


async def serves_txn_stream(stub: store_pb2_grpc.StoreKVStub, timeout: float) -> bool:
    """Whether the store has TxnStream: a stream that sends nothing ends cleanly there, and with
    UNIMPLEMENTED at a real etcd or an older raykube store. Asked before the first batch, since a
    batch written into a refused stream can fail as INTERNAL (the failed write's status) before
    the store's UNIMPLEMENTED arrives."""
    try:
        async for _ in stub.TxnStream(iter(()), timeout=timeout):
            pass
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.UNIMPLEMENTED:
            return False
        raise
    return True


class StreamFailed(grpc.aio.AioRpcError):
    """What a batch on a stream fails with when no status came from the store: a timeout or a
    stream that ended without one."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class TxnStream:
    """One TxnStream call and the batches waiting on it; made on the event loop that uses it."""

    def __init__(self, stub: store_pb2_grpc.StoreKVStub):
        self._call = stub.TxnStream()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[store_pb2.TxnBatchResponse]] = {}
        self._writing = asyncio.Lock()
        self.failure: grpc.aio.AioRpcError | None = None  # set once the stream is broken
        self._reader = asyncio.create_task(self._read(), name="txn-stream-reader")
        self._retirement: asyncio.Task[None] | None = None

    async def batch(self, request: store_pb2.TxnBatchRequest, timeout: float) -> store_pb2.TxnBatchResponse:
        """The store's response to `request` (whose id this sets), or the stream's failure."""
        if self.failure is not None:
            raise self.failure
        request.id = next(self._ids)
        future = self._waiting[request.id] = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(timeout):
                async with self._writing:
                    await self._call.write(request)
                return await future
        except TimeoutError:
            raise StreamFailed(
                grpc.StatusCode.DEADLINE_EXCEEDED, "no response in time on the TxnStream"
            ) from None
        except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
            # The stream broke (while writing or waiting): the reader says why, for every batch alike.
            await asyncio.wait({self._reader})
            assert self.failure is not None
            raise self.failure from None
        finally:
            self._waiting.pop(request.id, None)

    async def _read(self) -> None:
        try:
            async for response in self._call:
                future = self._waiting.get(response.id)
                if future is not None and not future.done():
                    future.set_result(response)
            self.failure = StreamFailed(grpc.StatusCode.UNAVAILABLE, "the store ended the TxnStream")
        except grpc.aio.AioRpcError as err:
            self.failure = err
        except asyncio.CancelledError:
            self.failure = StreamFailed(grpc.StatusCode.CANCELLED, "the TxnStream was closed")
        finally:
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(self.failure or StreamFailed(grpc.StatusCode.UNKNOWN, "TxnStream"))

    def retire(self) -> None:
        """Send nothing more: the store answers what it has (their callers get their responses, as
        unary calls on an abandoned channel would) and then ends the stream."""
        _retiring.add(self)
        self._reader.add_done_callback(lambda _: _retiring.discard(self))
        self._retirement = asyncio.create_task(self._done_writing())  # held, like the reader

    async def _done_writing(self) -> None:
        async with self._writing:
            if self.failure is None:
                with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    await self._call.done_writing()  # (broken already: the reader has the reason)

    def close(self) -> None:
        self._call.cancel()
        self._reader.cancel()


_retiring: set[TxnStream] = set()  # held until their last responses are in
