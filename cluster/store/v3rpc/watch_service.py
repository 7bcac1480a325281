"""etcd's Watch service: one bidirectional stream carrying many watches (cluster/store/watch.py).

Two tasks per stream, owned by a TaskGroup: one reads requests and hands them to the
WatchStream; one writes what the WatchStream yields. Like etcd, the stream stays open after the
client half-closes, until the client cancels the RPC (which cancels both tasks).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc

from cluster.store.mvcc.state_machine import StateMachine
from cluster.store.v3rpc.rpc import Headers
from cluster.store.v3rpc.watch import WatchHub, WatchStream
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


class WatchService(rpc_pb2_grpc.WatchServicer):
    def __init__(
        self,
        machine: StateMachine,
        hub: WatchHub,
        headers: Headers,
        *,
        progress_interval: float,
        clock: Callable[[], float],
    ) -> None:
        self._machine = machine
        self._hub = hub
        self._headers = headers
        self._progress_interval = progress_interval
        self._clock = clock

    async def Watch(
        self, request_iterator: AsyncIterator[rpc_pb2.WatchRequest], context: grpc.aio.ServicerContext
    ) -> None:
        stream = WatchStream(
            self._machine,
            self._hub,
            self._headers.make,
            progress_interval=self._progress_interval,
            clock=self._clock,
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_read(request_iterator, stream))
                tasks.create_task(_write(stream, context))
        finally:
            stream.close()


async def _read(requests: AsyncIterator[rpc_pb2.WatchRequest], stream: WatchStream) -> None:
    async for request in requests:
        stream.handle(request)


async def _write(stream: WatchStream, context: grpc.aio.ServicerContext) -> None:
    async for response in stream.responses():
        await context.write(response)
