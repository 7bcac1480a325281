"""Pending ReadIndex requests on a leader, confirmed by a heartbeat round carrying their context.

A request records the leader's commit index when it arrived. Once a majority acknowledged a heartbeat
with its context, the leader was still leader when the request arrived, so that index is at least every
index committed before the read started: serving the read after applying it is linearizable.
Requests are answered in arrival order; an ack for a later context confirms all earlier ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cluster.store.raft.messages import Message


@dataclass(slots=True)
class ReadIndexStatus:
    request: Message
    index: int
    acks: dict[int, bool] = field(default_factory=dict)


class ReadOnly:
    __slots__ = ("_pending", "_queue")

    def __init__(self) -> None:
        self._pending: dict[bytes, ReadIndexStatus] = {}
        self._queue: list[bytes] = []

    def add_request(self, index: int, request: Message) -> None:
        """Queue a request; a duplicate context is ignored (it will be answered with the first)."""
        ctx = request.context
        if ctx in self._pending:
            return
        self._pending[ctx] = ReadIndexStatus(request, index)
        self._queue.append(ctx)

    def recv_ack(self, node_id: int, ctx: bytes) -> dict[int, bool] | None:
        """Record a heartbeat ack; the acks so far for that context, or None if it is not pending."""
        status = self._pending.get(ctx)
        if status is None:
            return None
        status.acks[node_id] = True
        return status.acks

    def advance(self, ctx: bytes) -> list[ReadIndexStatus]:
        """Dequeue and return every request up to and including ctx (all now confirmed)."""
        if ctx not in self._pending:
            return []
        cut = self._queue.index(ctx) + 1
        done = [self._pending.pop(c) for c in self._queue[:cut]]
        del self._queue[:cut]
        return done

    def last_pending_context(self) -> bytes:
        return self._queue[-1] if self._queue else b""
