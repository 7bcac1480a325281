"""What every raykube gRPC server has in common: how it listens, the standard services beside its
own, and how a stream of requests is answered concurrently (`answered`).

Each component answers gRPC health checking (`grpc.health.v1.Health`, what grpc_health_probe and
load balancers ask) and server reflection (so `grpcurl` can list and call any component without
the .proto files). Components that serve no API of their own (scheduler, controller manager,
proxy) still run a small server for these two, so every component can be probed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from cluster.tls import Tls, grpc_server_credentials

Request = TypeVar("Request")
Answer = TypeVar("Answer")


def listen(server: grpc.aio.Server, address: str, tls: Tls | None) -> int:
    """Bind `address` ("host:port", port 0 picks one): TLS with client certificates the cluster CA
    signed if `tls` is given, plaintext otherwise (in-process tests on loopback). The bound port."""
    if tls is None:
        return server.add_insecure_port(address)
    return server.add_secure_port(address, grpc_server_credentials(tls))


def service_names(*files: FileDescriptor) -> list[str]:
    """The full names of the services the given .proto files define (as reflection lists them)."""
    return [service.full_name for file in files for service in file.services_by_name.values()]


class Health:
    """The health and reflection services on one server: NOT_SERVING until `serving()` (a server
    may listen before it can answer, as the API server while it creates the system namespaces),
    and again from `stopping()`, so callers see why rather than a dropped connection."""

    def __init__(self, servicer: health.aio.HealthServicer, services: list[str]):
        self._servicer = servicer
        self._services = ["", *services]  # "": the server as a whole

    @classmethod
    async def install(cls, server: grpc.aio.Server, services: list[str]) -> Health:
        """Add both services to `server` (before it starts), for `services` and the server as a whole."""
        servicer = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        reflection.enable_server_reflection([*services, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
        installed = cls(servicer, services)
        await installed.stopping()
        return installed

    async def _set(self, status: health_pb2.HealthCheckResponse.ServingStatus.ValueType) -> None:
        for service in self._services:
            await self._servicer.set(service, status)

    async def serving(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.SERVING)

    async def stopping(self) -> None:
        await self._set(health_pb2.HealthCheckResponse.NOT_SERVING)


@contextlib.asynccontextmanager
async def health_only(tls: Tls | None, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """A server with only health and reflection, for a component that serves nothing else (as
    kube-scheduler's /healthz, on loopback): its address while the block runs."""
    server = grpc.aio.server()
    health = await Health.install(server, [])
    port = listen(server, f"{host}:0", tls)
    await server.start()
    await health.serving()
    try:
        yield f"{host}:{port}"
    finally:
        await health.stopping()
        await server.stop(grace=None)


async def answered(
    requests: AsyncIterator[Request], answer: Callable[[Request], Awaitable[Answer]], limit: int
) -> AsyncIterator[list[Answer]]:
    """Each request's answer, worked out as a task of its own (at most `limit` at once), in the
    order they finish: each list is what finished since the last was taken, so a caller can send
    a burst as one message. Ends once the requests have ended and every answer is out; a failure
    reading the requests (a broken stream, an abort) is raised after the answers that finished.
    Why: the streams that carry many clients' calls (the API's Exchange, the store's TxnStream)
    must not make a quick request wait behind a slow one, as separate calls would not."""
    finished: asyncio.Queue[Answer | None] = asyncio.Queue()
    slots = asyncio.Semaphore(limit)
    running: set[asyncio.Task[None]] = set()

    async def work(request: Request) -> None:
        try:
            finished.put_nowait(await answer(request))
        finally:
            slots.release()

    async def read() -> None:
        try:
            async for request in requests:
                await slots.acquire()
                task = asyncio.create_task(work(request))
                running.add(task)
                task.add_done_callback(running.discard)
            while running:  # the client is done writing: finish what it asked
                await asyncio.wait(set(running))
        finally:
            finished.put_nowait(None)

    reader = asyncio.create_task(read(), name="stream-reader")
    try:
        while (first := await finished.get()) is not None:
            ready = [first]
            while not finished.empty():
                item = finished.get_nowait()
                if item is None:
                    finished.put_nowait(None)  # the end, after these
                    break
                ready.append(item)
            yield ready
        await reader  # how reading ended: a broken stream raises here
    finally:
        reader.cancel()
        for task in running:
            task.cancel()
