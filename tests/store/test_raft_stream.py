"""The Raft stream between replicas: batches arrive whole and in order, over TLS with the cluster's
certificates; a replica of another cluster, a client without a certificate and unreadable frames
are turned away without anything reaching Raft."""

from __future__ import annotations

import asyncio
import ssl
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cluster.bootstrap.pki import CertificateAuthority, Identity
from cluster.store.replication.raft_stream import MAGIC, RaftStream, RaftStreamServer, StreamRefused
from cluster.tls import Tls
from raykube.store.v1 import store_pb2

CLUSTER = 7


def batch(*indexes: int) -> store_pb2.SendRequest:
    return store_pb2.SendRequest(
        messages=[store_pb2.RaftMessage(type=3, to=2, frm=1, index=i) for i in indexes]
    )


def tls(ca: CertificateAuthority, name: str) -> Tls:
    cert, key = ca.issue(Identity(name, dns_names=("raykube",), server=True, client=True))
    return Tls(ca.pair.cert.read_text(), cert.decode(), key.decode())


class Receiver:
    def __init__(self, tls: Tls | None = None) -> None:
        self.got: list[store_pb2.SendRequest] = []
        self.arrived = asyncio.Event()
        self.server = RaftStreamServer(CLUSTER, self._deliver, tls)

    def _deliver(self, request: store_pb2.SendRequest) -> None:
        self.got.append(request)
        self.arrived.set()

    async def indexes(self, count: int) -> list[int]:
        async with asyncio.timeout(5):
            while sum(len(r.messages) for r in self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return [m.index for r in self.got for m in r.messages]


def with_receiver(scenario: Callable[[Receiver], Awaitable[None]]) -> None:
    """Run `scenario` against a receiver listening on loopback, stopped afterwards."""

    async def run() -> None:
        receiver = Receiver()
        await receiver.server.start("127.0.0.1")
        try:
            await scenario(receiver)
        finally:
            await receiver.server.stop()

    asyncio.run(run())


def test_batches_arrive_whole_and_in_order() -> None:
    async def scenario(receiver: Receiver) -> None:
        stream = await RaftStream.open("127.0.0.1", receiver.server.port, CLUSTER, None)
        for first in range(0, 300, 3):
            await stream.write(batch(first, first + 1, first + 2))
        assert await receiver.indexes(300) == list(range(300))
        assert len(receiver.got) == 100
        stream.close()

    with_receiver(scenario)


def test_a_replica_of_another_cluster_is_refused() -> None:
    async def scenario(receiver: Receiver) -> None:
        with pytest.raises(StreamRefused):
            await RaftStream.open("127.0.0.1", receiver.server.port, CLUSTER + 1, None)
        assert receiver.got == []

    with_receiver(scenario)


@pytest.mark.parametrize(
    "frame",
    [struct.pack(">I", (1 << 30) + 1), struct.pack(">I", 5) + b"\xff\xff\xff\xff\xff"],
    ids=["too long", "not a SendRequest"],
)
def test_an_unreadable_frame_ends_the_connection_and_reaches_nothing(frame: bytes) -> None:
    async def scenario(receiver: Receiver) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.server.port)
        writer.write(MAGIC + struct.pack(">Q", CLUSTER))
        assert await reader.readexactly(1) == b"\x01"
        writer.write(frame)
        async with asyncio.timeout(5):
            assert await reader.read() == b""  # closed by the receiver
        writer.close()
        assert receiver.got == []

    with_receiver(scenario)


def test_writing_to_a_stopped_receiver_fails_rather_than_hanging() -> None:
    async def scenario(receiver: Receiver) -> None:
        stream = await RaftStream.open("127.0.0.1", receiver.server.port, CLUSTER, None)
        await stream.write(batch(1))
        assert await receiver.indexes(1) == [1]
        await receiver.server.stop()
        with pytest.raises(ConnectionError):
            async with asyncio.timeout(5):
                for i in range(100):  # the first writes may only fill the socket's buffer
                    await stream.write(batch(i))
                    await asyncio.sleep(0.01)
        stream.close()

    with_receiver(scenario)


def test_stop_ends_the_handlers_of_open_connections() -> None:
    """A connection's handler left running past stop() would be closed by the garbage collector
    once its event loop is gone, and fail there (PytestUnraisableExceptionWarning)."""

    async def scenario(receiver: Receiver) -> None:
        stream = await RaftStream.open("127.0.0.1", receiver.server.port, CLUSTER, None)
        await stream.write(batch(1))
        assert await receiver.indexes(1) == [1]
        handlers = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "RaftStreamServer._serve"]
        assert len(handlers) == 1 and not handlers[0].done()  # idle, waiting for the next frame
        await receiver.server.stop()
        assert handlers[0].done()
        stream.close()

    with_receiver(scenario)


def test_over_tls_only_a_certificate_of_the_cluster_ca_gets_through(tmp_path: Path) -> None:
    asyncio.run(tls_scenario(tmp_path))


async def tls_scenario(tmp_path: Path) -> None:
    ca = CertificateAuthority.ensure(tmp_path / "ca")
    other = CertificateAuthority.ensure(tmp_path / "other", name="another-ca")
    found = Receiver(tls(ca, "store-0"))
    await found.server.start("127.0.0.1")
    try:
        stream = await RaftStream.open("127.0.0.1", found.server.port, CLUSTER, tls(ca, "store-1"))
        await stream.write(batch(4, 5))
        assert await found.indexes(2) == [4, 5]
        stream.close()

        stranger = tls(other, "store-1")
        with pytest.raises((ssl.SSLError, ConnectionError)):
            async with asyncio.timeout(5):
                await RaftStream.open("127.0.0.1", found.server.port, CLUSTER, stranger)
        plain = RaftStream.open("127.0.0.1", found.server.port, CLUSTER, None)
        with pytest.raises(ConnectionError):
            async with asyncio.timeout(5):
                await plain  # no TLS at all: the receiver closes without answering the hello
        assert len(found.got) == 1
    finally:
        await found.server.stop()
