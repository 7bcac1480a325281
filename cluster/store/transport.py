"""Raft messages to other replicas: one queue and one sender per peer, batches of unary calls.

`send(messages)` (the ready loop calls it once a Ready is persisted) puts each message on its
peer's queue and returns at once. Each peer has one sender task: it takes everything queued, sends
it as one `StorePeer.Send` call, and repeats. While a call is in flight new messages pile up and
leave together in the next call, so a busy leader sends few large batches, and a slow or dead
peer only ever holds up its own queue. A queue keeps at most `max_queue` messages; beyond that new
ones are dropped (Raft sends again what matters).

Failure: a call that fails drops its batch, reports the peer unreachable to Raft (which then
probes it gently instead of streaming entries) and reports any MsgSnap in it as failed; the sender
then waits `retry` seconds before its next call. A MsgSnap in a call that succeeded is reported
delivered. Receiving is the StorePeer servicer's job (peer_service.py).

Fault injection (faults.py, test only) drops messages to a blocked peer here, silently.

Channels: one per peer address for the transport's life (gRPC reconnects by itself, with a short
backoff so a restarted peer is reached within a second); `stub(peer)` lends it to lease
forwarding. Event-loop only; `run()` owns the sender tasks and closes the channels when cancelled.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import grpc

from cluster.store.faults import Faults
from cluster.store.raft import Message, MessageType
from cluster.store.raft_codec import message_to_pb
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
    def report_unreachable(self, peer: int) -> None: ...
    def report_snapshot(self, peer: int, succeeded: bool) -> None: ...


@dataclass(frozen=True)
class TransportOptions:
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

    def stub(self, peer: int) -> store_pb2_grpc.StorePeerStub | None:
        """A stub on the peer's channel, or None if its address is unknown."""
        address = self._resolve(peer)
        if address is None:
            return None
        found = self._channels.get(address)
        if found is None:
            channel = grpc.aio.insecure_channel(address, options=CHANNEL_OPTIONS)
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
        while True:
            await peer.wake.wait()
            peer.wake.clear()
            batch, peer.queue = peer.queue, []
            if not batch:
                continue
            if await self._deliver(peer, batch):
                await asyncio.sleep(self._options.retry)

    async def _deliver(self, peer: _Peer, batch: list[Message]) -> bool:
        """Send one batch; returns True if it failed."""
        snapshots = [m for m in batch if m.type is MessageType.SNAP]
        stub = self.stub(peer.id)
        error: str | None = "address unknown"
        if stub is not None:
            request = store_pb2.SendRequest(
                cluster_id=self._cluster_id, messages=[message_to_pb(m) for m in batch]
            )
            try:
                await stub.Send(request, timeout=self._options.send_timeout)
                error = None
            except grpc.aio.AioRpcError as err:
                error = f"{err.code().name}: {err.details()}"
        if error is None:
            if not peer.reachable:
                log.info("peer %x is reachable again", peer.id)
                peer.reachable = True
        else:
            if peer.reachable:
                log.warning("peer %x unreachable (%s); dropping %d messages", peer.id, error, len(batch))
                peer.reachable = False
            self._reporter.report_unreachable(peer.id)
        for _ in snapshots:
            self._reporter.report_snapshot(peer.id, error is None)
        return error is not None
