"""Raft messages to other replicas: one queue, one sender and one stream per peer.

`send(messages)` (the ready loop calls it) puts each message on its peer's queue and returns at
once. Each peer has one sender task that keeps one Raft stream open to it (raft_stream.py: TCP,
TLS with the cluster's certificates, found through the peer's `StorePeer.RaftStream`) and writes
everything queued as one SendRequest frame, again and again. While a write is under way new
messages pile up and leave together in the next one, so a busy leader sends few large batches,
and a slow or dead peer only ever holds up its own queue. A queue keeps at most `max_queue`
messages; beyond that new ones are dropped (Raft sends again what matters).

Failure: a connection that cannot be opened, a write that fails or takes longer than
`send_timeout` drops its batch, closes the stream, reports the peer unreachable to Raft (which
then probes it gently instead of streaming entries) and reports any MsgSnap in it as failed; the
sender waits `retry` seconds and opens a new stream for its next batch. A MsgSnap whose write
went through is reported delivered (as etcd does: the peer's answer to it comes as an ordinary
message). Receiving is raft_stream.py's server, which hands batches to `deliver` (below).

Fault injection (faults.py, test only) drops messages to a blocked peer here, and messages from
one in `deliver`, silently.

Channels: one gRPC channel per peer address for the transport's life (gRPC reconnects by itself,
with a short backoff so a restarted peer is reached within a second); `stub(peer)` lends it to
lease forwarding and stream discovery. Event-loop only; `run()` owns the sender tasks and closes
the streams and channels when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from cluster.store.raft import Message, MessageType
from cluster.store.replication.faults import Faults
from cluster.store.replication.members import host_of
from cluster.store.replication.raft_codec import message_from_pb, message_to_pb
from cluster.store.replication.raft_stream import RaftStream
from cluster.tls import Tls, open_channel
from raykube.store.v1 import store_pb2, store_pb2_grpc

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 30  # snapshots travel in one message
CHANNEL_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]

Resolve = Callable[[int], str | None]  # member ID -> host:port of its peer address


class Reporter(Protocol):
    def step(self, messages: list[Message]) -> None: ...
    def report_unreachable(self, peer: int) -> None: ...
    def report_snapshot(self, peer: int, succeeded: bool) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
    tls: Tls | None = None  # peers' mutual TLS (the cluster CA's certificates); None: plaintext
    send_timeout: float = 5.0  # seconds for one batch (a snapshot included)
    retry: float = 0.1  # seconds between calls to a peer after a failed one
    max_queue: int = 4096  # messages waiting per peer


class _Peer:
    __slots__ = ("id", "queue", "reachable", "wake")

    def __init__(self, peer_id: int) -> None:
        self.id = peer_id
        self.queue: list[Message] = []
        self.wake = asyncio.Event()
        self.reachable = True


class PeerTransport:
    def __init__(
        self,
        cluster_id: int,
        resolve: Resolve,
        reporter: Reporter,
        faults: Faults,
        options: TransportOptions,
    ) -> None:
        self._cluster_id = cluster_id
        self._resolve = resolve
        self._reporter = reporter
        self._faults = faults
        self._options = options
        self._peers: dict[int, _Peer] = {}
        self._channels: dict[str, tuple[grpc.aio.Channel, store_pb2_grpc.StorePeerStub]] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self.dropped = 0  # messages dropped because a queue was full

    def send(self, messages: list[Message]) -> None:
        max_queue = self._options.max_queue
        for m in messages:
            if self._faults.dropped and self._faults.blocks(m.to):
                continue
            peer = self._peers.get(m.to)
            if peer is None:
                peer = self._peers[m.to] = _Peer(m.to)
                if self._tasks is not None:
                    self._tasks.create_task(self._sender(peer))
            if len(peer.queue) >= max_queue:
                self.dropped += 1
                continue
            peer.queue.append(m)
            peer.wake.set()

    def deliver(self, request: store_pb2.SendRequest) -> None:
        """A batch from a peer's stream: its messages into Raft, in order (the stream server calls this)."""
        faults = self._faults
        self._reporter.step(
            [message_from_pb(pb) for pb in request.messages if not (faults.dropped and faults.blocks(pb.frm))]
        )

    def stub(self, peer: int) -> store_pb2_grpc.StorePeerStub | None:
        """A stub on the peer's channel, or None if its address is unknown."""
        address = self._resolve(peer)
        if address is None:
            return None
        found = self._channels.get(address)
        if found is None:
            channel = open_channel(address, self._options.tls, CHANNEL_OPTIONS)
            found = self._channels[address] = (channel, store_pb2_grpc.StorePeerStub(channel))
        return found[1]

    async def run(self) -> None:
        """Run the senders until cancelled, then close every channel."""
        try:
            async with asyncio.TaskGroup() as tasks:
                self._tasks = tasks
                for peer in self._peers.values():
                    tasks.create_task(self._sender(peer))
                await asyncio.Event().wait()  # until cancelled
        finally:
            self._tasks = None
            channels, self._channels = self._channels, {}
            for channel, _ in channels.values():
                await channel.close()

    async def _sender(self, peer: _Peer) -> None:
        stream: RaftStream | None = None
        try:
            while True:
                await peer.wake.wait()
                peer.wake.clear()
                batch, peer.queue = peer.queue, []
                if not batch:
                    continue
                stream = await self._deliver(peer, stream, batch)
                if stream is None:
                    await asyncio.sleep(self._options.retry)
        finally:
            if stream is not None:
                stream.close()

    async def _open(self, peer: int) -> RaftStream:
        """A new stream to `peer`: ask its peer service for the stream's port, then connect."""
        address = self._resolve(peer)
        stub = self.stub(peer)
        if address is None or stub is None:
            raise ConnectionError("address unknown")
        answer = await stub.RaftStream(store_pb2.RaftStreamRequest(), timeout=self._options.send_timeout)
        return await RaftStream.open(host_of(address), answer.port, self._cluster_id, self._options.tls)

    async def _deliver(
        self, peer: _Peer, stream: RaftStream | None, batch: list[Message]
    ) -> RaftStream | None:
        """Write one batch on the peer's stream (opened if need be); the stream, or None if it failed."""
        error: str | None = None
        request = store_pb2.SendRequest(messages=[message_to_pb(m) for m in batch])
        try:
            async with asyncio.timeout(self._options.send_timeout):
                if stream is None:
                    stream = await self._open(peer.id)
                await stream.write(request)
        except grpc.aio.AioRpcError as err:
            error = f"{err.code().name}: {err.details()}"
        except (TimeoutError, OSError) as err:  # OSError: ConnectionError, refused, reset, TLS
            error = repr(err)  # TimeoutError: a peer that stopped reading, or never answered
        if error is not None and stream is not None:
            stream.close()
            stream = None
        if error is None:
            if not peer.reachable:
                log.info("peer %x is reachable again", peer.id)
                peer.reachable = True
        else:
            if peer.reachable:
                log.warning("peer %x unreachable (%s); dropping %d messages", peer.id, error, len(batch))
                peer.reachable = False
            self._reporter.report_unreachable(peer.id)
        for m in batch:
            if m.type is MessageType.SNAP:
                self._reporter.report_snapshot(peer.id, error is None)
        return stream
