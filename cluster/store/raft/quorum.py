"""Majority quorum maths, in a fast form used by the core and a naive reference form.

The naive functions state the definitions directly and exist to check the fast ones (property tests in
tests/raft/test_quorum.py); the core never calls them.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Collection, Mapping


class VoteResult(enum.IntEnum):
    PENDING = 0
    LOST = 1
    WON = 2


def majority(size: int) -> int:
    return size // 2 + 1


def committed_index(voters: Collection[int], match: Mapping[int, int]) -> int:
    """The largest index acknowledged by a majority of voters (0 for no voters)."""
    if not voters:
        return 0
    acked = sorted((match.get(v, 0) for v in voters), reverse=True)
    return acked[majority(len(acked)) - 1]


def vote_result(voters: Collection[int], votes: Mapping[int, bool]) -> VoteResult:
    """WON once a majority granted, LOST once a majority can no longer grant, else PENDING."""
    granted = rejected = 0
    for v in voters:
        vote = votes.get(v)
        if vote is True:
            granted += 1
        elif vote is False:
            rejected += 1
    need = majority(len(voters))
    if granted >= need:
        return VoteResult.WON
    if len(voters) - rejected < need:
        return VoteResult.LOST
    return VoteResult.PENDING


def committed_index_naive(voters: Collection[int], match: Mapping[int, int]) -> int:
    """Reference: the largest i such that at least a majority of voters have match >= i."""
    best = 0
    for i in {match.get(v, 0) for v in voters}:
        if sum(1 for v in voters if match.get(v, 0) >= i) >= majority(len(voters)):
            best = max(best, i)
    return best


def vote_result_naive(voters: Collection[int], votes: Mapping[int, bool]) -> VoteResult:
    """Reference: try every way the missing voters could still vote."""
    missing = [v for v in voters if v not in votes]
    outcomes = set()
    for completion in itertools.product((True, False), repeat=len(missing)):
        final = {**votes, **dict(zip(missing, completion, strict=True))}
        outcomes.add(sum(1 for v in voters if final[v]) >= majority(len(voters)))
    if outcomes == {True}:
        return VoteResult.WON
    if outcomes == {False}:
        return VoteResult.LOST
    return VoteResult.PENDING
