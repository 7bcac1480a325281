"""The RawNode contract: Ready/advance pairing, what a Ready carries, restart from storage."""

from __future__ import annotations

import random

import pytest

from cluster.store.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    EntryType,
    HardState,
    InvariantViolationError,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDroppedError,
    RawNode,
    Ready,
    StateRole,
)


def node(storage: MemoryStorage, node_id: int = 1, applied: int = 0) -> RawNode:
    return RawNode(Config(id=node_id, applied=applied, rng=random.Random(node_id)), storage)


def handle(n: RawNode, storage: MemoryStorage) -> Ready:
    """Persist, apply and advance one Ready (messages are returned in it)."""
    rd = n.ready()
    if rd.snapshot is not None:
        storage.apply_snapshot(rd.snapshot)
    storage.append(rd.entries)
    if rd.hard_state is not None:
        storage.set_hard_state(rd.hard_state)
    for e in rd.committed_entries:
        if e.type is EntryType.CONF_CHANGE:
            n.apply_conf_change(ConfChange.decode(e.data))
    n.advance()
    return rd


def founded(node_id: int, peers: list[int]) -> tuple[RawNode, MemoryStorage]:
    """A founding member whose bootstrap Ready is handled."""
    storage = MemoryStorage()
    n = node(storage, node_id)
    n.bootstrap(peers)
    rd = handle(n, storage)
    assert rd.must_sync and [e.index for e in rd.committed_entries] == list(range(1, len(peers) + 1))
    return n, storage


def test_single_node_elects_itself_and_commits() -> None:
    n, storage = founded(1, [1])
    n.campaign()
    rd = handle(n, storage)
    assert rd.soft_state is not None and rd.soft_state.role is StateRole.LEADER
    assert [e.data for e in rd.committed_entries] == [b""]  # the election no-op, alone a quorum
    n.propose(b"x")
    rd = handle(n, storage)
    assert [e.data for e in rd.committed_entries] == [b"x"]
    assert not n.has_ready()


def test_ready_must_be_advanced_before_the_next() -> None:
    storage = MemoryStorage()
    n = node(storage)
    n.bootstrap([1, 2, 3])
    n.ready()
    with pytest.raises(InvariantViolationError):
        n.ready()
    n.advance()
    with pytest.raises(InvariantViolationError):
        n.advance()


def test_vote_is_in_the_ready_that_sends_the_response() -> None:
    n, _ = founded(2, [1, 2, 3])
    n.step(Message(MessageType.VOTE, to=2, frm=1, term=2, index=3, log_term=1))
    rd = n.ready()
    assert rd.hard_state == HardState(term=2, vote=1, commit=3) and rd.must_sync
    assert [(m.type, m.reject) for m in rd.messages] == [(MessageType.VOTE_RESP, False)]


def test_proposals_without_leader_are_dropped() -> None:
    storage = MemoryStorage()
    n = node(storage)
    n.bootstrap([1, 2, 3])
    with pytest.raises(ProposalDroppedError):
        n.propose(b"x")
    with pytest.raises(ProposalDroppedError):
        n.read_index(b"ctx")
    # A forwarded proposal from a peer is dropped silently, like a lost message.
    n.step(Message(MessageType.PROP, to=1, frm=2))


def test_local_message_types_are_refused_from_peers() -> None:
    n = node(MemoryStorage())
    with pytest.raises(InvariantViolationError):
        n.step(Message(MessageType.HUP, frm=2))
    with pytest.raises(InvariantViolationError):
        n.step(Message(MessageType.APP))  # no sender


def test_restart_restores_persisted_state() -> None:
    n, storage = founded(2, [1, 2, 3])
    n.step(Message(MessageType.VOTE, to=2, frm=3, term=5, index=3, log_term=1))
    handle(n, storage)
    # No snapshot: the state machine restarts empty, so everything committed is handed out again,
    # and replaying the conf changes rebuilds the config.
    restarted = node(storage, node_id=2, applied=0)
    raft = restarted.raft
    assert (raft.term, raft.vote, raft.log.committed, raft.log.applied) == (5, 3, 3, 0)
    rd = handle(restarted, storage)
    assert [e.index for e in rd.committed_entries] == [1, 2, 3]
    assert raft.voters == (1, 2, 3) and not restarted.has_ready()


def test_conf_change_refused_while_one_is_pending() -> None:
    n, storage = founded(1, [1])
    n.campaign()
    handle(n, storage)
    n.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, 2))
    n.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, 3))
    rd = handle(n, storage)
    assert [e.type for e in rd.entries] == [EntryType.CONF_CHANGE, EntryType.NORMAL]
    assert n.raft.voters == (1, 2)
