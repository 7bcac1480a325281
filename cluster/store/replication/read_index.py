"""Linearizable reads for the Raft shell: batched ReadIndex rounds, then waits for the applied index.

etcd's linearizableReadLoop, on the event loop. Every `join()` (one per read_barrier call) belongs
to the *next* round; at most one round is in flight. A round is one `RawNode.read_index(ctx)`,
whose ReadState carries the leader's commit index as confirmed by a heartbeat quorum; it answers
every reader in the round at once, and each reader then waits until the local applied index
reaches that index (`wait_applied`). So a read reflects every write acknowledged before it began,
on any replica, at the cost of one heartbeat round per batch of reads.

A round that cannot be started (no leader known) stays queued; one in flight that gets no answer
(its request or answer was lost in a leader change) is asked again every `retry_ticks` ticks with
the same context. Readers bound their own wait (the replicator's request timeout); a late or
duplicate answer for a context no longer in flight is ignored. Event-loop only.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools

from cluster.store.raft import ProposalDroppedError, RawNode, ReadState


class ReadIndex:
    def __init__(self, retry_ticks: int) -> None:
        self._retry_ticks = retry_ticks
        self._next: asyncio.Future[int] | None = None  # the round new readers join
        self._inflight: tuple[bytes, asyncio.Future[int]] | None = None
        self._ticks_waiting = 0
        self._contexts = itertools.count(1)
        self._applied = 0
        self._applied_waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_order = itertools.count()

    def join(self) -> asyncio.Future[int]:
        """The round this reader belongs to; resolves to the index to wait for."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        return self._next

    def issue(self, node: RawNode) -> None:
        """Start the queued round if none is in flight (no leader: it stays queued)."""
        if self._next is None or self._inflight is not None:
            return
        context = next(self._contexts).to_bytes(8, "big")
        try:
            node.read_index(context)
        except ProposalDroppedError:
            return
        self._inflight, self._next = (context, self._next), None
        self._ticks_waiting = 0

    def tick(self, node: RawNode) -> None:
        """Ask again for a round that has waited `retry_ticks` ticks without an answer."""
        if self._inflight is None:
            return
        self._ticks_waiting += 1
        if self._ticks_waiting >= self._retry_ticks:
            self._ticks_waiting = 0
            with contextlib.suppress(ProposalDroppedError):  # no leader now: a later retry may find one
                node.read_index(self._inflight[0])

    def answered(self, read_states: list[ReadState]) -> None:
        inflight = self._inflight
        if inflight is None:
            return
        for state in read_states:
            if state.context == inflight[0]:
                self._inflight = None
                if not inflight[1].done():
                    inflight[1].set_result(state.index)
                return

    def wait_applied(self, index: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if index <= self._applied:
            future.set_result(None)
        else:
            heapq.heappush(self._applied_waiters, (index, next(self._waiter_order), future))
        return future

    def applied_to(self, index: int) -> None:
        self._applied = index
        waiters = self._applied_waiters
        while waiters and waiters[0][0] <= index:
            _, _, future = heapq.heappop(waiters)
            if not future.done():
                future.set_result(None)

    def fail(self, error: BaseException) -> None:
        """Fail every reader (the replicator stops)."""
        rounds: list[asyncio.Future[int] | asyncio.Future[None] | None] = [
            self._next,
            self._inflight[1] if self._inflight else None,
        ]
        rounds += [future for _, _, future in self._applied_waiters]
        for future in rounds:
            if future is not None and not future.done():
                future.set_exception(error)
        self._next, self._inflight, self._applied_waiters = None, None, []
