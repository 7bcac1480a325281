"""Raft messages between replicas over plain TCP (TLS with the cluster's certificates): the wire.

Why not a gRPC stream: gRPC's asyncio stack hands every message between its own poller threads
and the event loop, and on two busy cores those thread hops cost most of a replication round
trip (measured: a message each way, 200 us of CPU per side on a gRPC stream, 66 us on an asyncio
socket). etcd, too, carries Raft traffic on its own peer streams (rafthttp), not on gRPC. gRPC
stays for everything else replicas ask each other (StorePeer: members, lease forwarding) and tells
a dialer where this listener is (`StorePeer.RaftStream`: its port, on the peer address's host).

One connection per (sender, receiver) pair, one direction, sender to receiver:

    sender:   MAGIC, cluster ID (8 bytes, big-endian)
    receiver: ACCEPTED (1 byte), or REFUSED and close: a replica of another cluster
    sender:   frames, each a 4-byte big-endian length and a SendRequest (one batch of messages)

The receiver steps each batch into its replica as it arrives (`deliver`); a frame it cannot read
(too long, not a SendRequest, a bad message) ends the connection with a warning, and the sender
reconnects. Event-loop only.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import struct
from collections.abc import Callable

from google.protobuf.message import DecodeError

from cluster.tls import SERVER_NAME, Tls, client_context, server_context
from raykube.store.v1 import store_pb2

log = logging.getLogger(__name__)

MAGIC = b"raykube-raft/1\n"
ACCEPTED, REFUSED = b"\x01", b"\x00"
MAX_FRAME_BYTES = 1 << 30  # snapshots travel in one frame
HELLO_TIMEOUT = 10.0  # seconds a new connection has to introduce itself
_HELLO = struct.Struct(">Q")
_LENGTH = struct.Struct(">I")

Deliver = Callable[[store_pb2.SendRequest], None]


class StreamRefused(ConnectionError):
    """The receiver belongs to another cluster."""


class RaftStream:
    """The sending end of one connection to a peer."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader  # the receiver never writes after its answer: data here is EOF
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int, cluster_id: int, tls: Tls | None) -> RaftStream:
        """Connect and introduce this cluster; raises StreamRefused or another OSError (the
        transport's sender handles OSErrors: the peer is unreachable for now)."""
        context = client_context(tls) if tls is not None else None
        reader, writer = await asyncio.open_connection(
            host, port, ssl=context, server_hostname=SERVER_NAME if context is not None else None
        )
        try:
            writer.write(MAGIC + _HELLO.pack(cluster_id))
            answer = await reader.readexactly(1)
        except asyncio.IncompleteReadError:
            writer.close()
            raise ConnectionResetError(f"{host}:{port} closed the stream before answering") from None
        except BaseException:
            writer.close()
            raise
        if answer != ACCEPTED:
            writer.close()
            raise StreamRefused(f"{host}:{port} is a replica of another cluster")
        return cls(reader, writer)

    async def write(self, request: store_pb2.SendRequest) -> None:
        """Send one batch; returns once the socket took it (or raises ConnectionError/OSError)."""
        if self._reader.at_eof() or self._writer.is_closing():
            raise ConnectionResetError("the receiver closed the stream")
        body = request.SerializeToString()
        self._writer.write(_LENGTH.pack(len(body)) + body)
        await self._writer.drain()

    def close(self) -> None:
        self._writer.close()


class RaftStreamServer:
    """The receiving end: a listener whose connections deliver batches to the replica."""

    def __init__(self, cluster_id: int, deliver: Deliver, tls: Tls | None) -> None:
        self._cluster_id = cluster_id
        self._deliver = deliver
        self._context: ssl.SSLContext | None = (
            server_context(tls, require_client_cert=True) if tls is not None else None
        )
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()  # _serve of each connection
        self.port = 0

    async def start(self, host: str) -> int:
        """Listen on `host` at a port the system picks; the port."""
        self._server = await asyncio.start_server(self._serve, host, 0, ssl=self._context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        """Stop listening, close every connection and wait for their handlers to end (again:
        nothing). A handler left running would be closed by the garbage collector after its
        event loop is gone, and fail there."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
            for writer in list(self._connections):
                writer.close()
            await server.wait_closed()
            handlers = list(self._handlers)
            for handler in handlers:
                handler.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
        self._connections.add(writer)
        peer = writer.get_extra_info("peername")
        try:
            async with asyncio.timeout(HELLO_TIMEOUT):
                hello = await reader.readexactly(len(MAGIC) + _HELLO.size)
            if hello[: len(MAGIC)] != MAGIC or _HELLO.unpack(hello[len(MAGIC) :])[0] != self._cluster_id:
                log.warning("raft stream from %s refused: not a replica of this cluster", peer)
                writer.write(REFUSED)
                return
            writer.write(ACCEPTED)
            while True:
                (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
                if length > MAX_FRAME_BYTES:
                    log.warning("raft stream from %s: a %d-byte frame is too long; closing", peer, length)
                    return
                self._deliver(store_pb2.SendRequest.FromString(await reader.readexactly(length)))
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, TimeoutError):
            pass  # the sender went away or never spoke (it reconnects if it has something to say)
        except (DecodeError, ValueError) as err:
            log.warning("raft stream from %s: unreadable frame (%s); closing", peer, err)
        finally:
            self._connections.discard(writer)
            self._handlers.discard(handler)
            writer.close()
