"""Waiting proposals: a leader change fails those handed to the old leader at once, not at their deadline."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from cluster.store.errors import LeaderChanged, NoLeader
from cluster.store.raft import ProposalDroppedError
from cluster.store.replication.proposals import Proposals


class FakeNode:
    """The two things Proposals uses of a RawNode: propose_batch and the leader it knows."""

    def __init__(self, lead: int) -> None:
        self.raft = SimpleNamespace(lead=lead)
        self.batches: list[list[bytes]] = []

    def propose_batch(self, entries: list[bytes]) -> None:
        if not self.raft.lead:
            raise ProposalDroppedError("no leader")
        self.batches.append(entries)


def test_a_new_leader_fails_requests_handed_to_the_old_one_and_keeps_queued_ones() -> None:
    async def scenario() -> None:
        proposals = Proposals(timeout=30, wake=lambda: None)
        node = FakeNode(lead=1)
        handed = asyncio.create_task(proposals.submit(101, b"a"))
        await asyncio.sleep(0)
        proposals.hand_over(node)  # goes to leader 1
        assert node.batches == [[b"a"]]
        node.raft.lead = 0
        queued = asyncio.create_task(proposals.submit(102, b"b"))
        await asyncio.sleep(0)
        proposals.hand_over(node)  # no leader: stays queued
        proposals.leader_changed(2)
        with pytest.raises(LeaderChanged, match="etcdserver: leader changed"):
            await handed
        assert not queued.done()
        node.raft.lead = 2
        proposals.hand_over(node)  # the queued one goes to the new leader
        assert node.batches[-1] == [b"b"]
        proposals.leader_changed(2)  # the same leader again changes nothing
        proposals.answer(102, None)
        assert await queued is None

    asyncio.run(scenario())


def test_a_request_never_handed_over_fails_with_no_leader_at_its_deadline() -> None:
    async def scenario() -> None:
        proposals = Proposals(timeout=0.05, wake=lambda: None)
        proposals.hand_over(FakeNode(lead=0))
        with pytest.raises(NoLeader):
            await proposals.submit(7, b"x")

    asyncio.run(scenario())
