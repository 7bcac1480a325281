"""Requests waiting for their log entries: queued until Raft takes them, answered once applied.

A request (an encoded store entry, or a membership conf change) is `submit`ted under its
cluster-unique request ID (request_ids.py) and waits. The ready loop calls `hand_over(node)`
before every Ready: every queued entry goes to Raft as ONE proposal batch (a follower's Raft
forwards it to the leader), conf changes one by one; with no leader they stay queued. When a
replica applies an entry it calls `answer(request_id, outcome)`; only the replica that holds the
waiter for that ID resolves anything, so the proposer's client gets the state machine's answer
(or its StoreError) wherever the entry was appended.

Deadlines: each request waits at most `timeout` seconds in all. If by then it never left the
queue, it fails with NoLeader and is withdrawn (it was never proposed, so the client may retry
freely); if it was handed to Raft but not applied in time (a minority partition), it fails with
RequestTimedOut: it may or may not still happen, as with etcd.

Leader changes: a request handed to Raft under one leader and not applied when another leader
emerges fails at once with LeaderChanged (etcd's error for it): the old leader may have died
with it, or replicated it before; either way its outcome is unknown, and waiting out the
deadline would only keep the client from learning that. Queued requests go to the new leader.
A client that goes away withdraws its request the same way. `close(error)` fails every waiter
and refuses new requests (the replicator stops). Event-loop only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cluster.store.errors import LeaderChanged, NoLeader, RequestTimedOut, Stopped, StoreError
from cluster.store.mvcc.state_machine import Response
from cluster.store.raft import ConfChange, ProposalDroppedError, RawNode

Outcome = Response | None  # None: a membership entry, which has no response


class Proposals:
    def __init__(self, timeout: float, wake: Callable[[], None]) -> None:
        self._timeout = timeout
        self._wake = wake  # asks the ready loop for a turn
        self._waiting: dict[int, asyncio.Future[Outcome]] = {}
        self._entries: dict[int, bytes] = {}  # queued, in arrival order
        self._changes: dict[int, ConfChange] = {}
        self._handed: dict[int, int] = {}  # request ID -> the leader it was handed to, until applied
        self._closed = False

    async def submit(self, request_id: int, proposal: bytes | ConfChange) -> Outcome:
        if self._closed:
            raise Stopped()
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        if isinstance(proposal, ConfChange):
            self._changes[request_id] = proposal
        else:
            self._entries[request_id] = proposal
        self._wake()
        try:
            async with asyncio.timeout(self._timeout):
                return await future
        except TimeoutError:
            never_proposed = request_id in self._entries or request_id in self._changes
            raise NoLeader() if never_proposed else RequestTimedOut() from None
        finally:
            self._waiting.pop(request_id, None)
            self._entries.pop(request_id, None)
            self._changes.pop(request_id, None)
            self._handed.pop(request_id, None)

    def hand_over(self, node: RawNode) -> None:
        """Give Raft everything queued, if it has a leader to take it."""
        if self._entries:
            try:
                node.propose_batch(list(self._entries.values()))
            except ProposalDroppedError:
                pass  # no leader (or a transfer under way): they wait, up to their deadline
            else:
                self._handed.update(dict.fromkeys(self._entries, node.raft.lead))
                self._entries.clear()
        for request_id, change in list(self._changes.items()):
            try:
                node.propose_conf_change(change)
            except ProposalDroppedError:
                break
            del self._changes[request_id]

    def leader_changed(self, leader: int) -> None:
        """A new leader is known: requests handed to another leader and not applied have unknown
        outcomes, and say so now (LeaderChanged) instead of at their deadline."""
        for request_id in [r for r, lead in self._handed.items() if lead != leader]:
            del self._handed[request_id]
            future = self._waiting.get(request_id)
            if future is not None and not future.done():
                future.set_exception(LeaderChanged())

    def answer(self, request_id: int, outcome: Outcome | StoreError) -> None:
        """An entry was applied here; resolve its waiter if this replica holds it."""
        self._handed.pop(request_id, None)
        future = self._waiting.pop(request_id, None)
        if future is None or future.done():
            return  # proposed elsewhere, or the proposer gave up
        if isinstance(outcome, StoreError):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def close(self, error: StoreError) -> None:
        self._closed = True
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(error)
        self._entries.clear()
        self._changes.clear()
        self._handed.clear()
