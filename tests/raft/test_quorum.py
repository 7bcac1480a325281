"""Seeded random property test: the fast quorum maths agrees with the naive definitions."""

from __future__ import annotations

import random

from cluster.store.raft.quorum import (
    VoteResult,
    committed_index,
    committed_index_naive,
    vote_result,
    vote_result_naive,
)


def test_fast_quorum_maths_matches_naive() -> None:
    rng = random.Random(20240601)
    for _ in range(3000):
        voters = rng.sample(range(1, 10), rng.randint(0, 7))
        others = [v for v in range(1, 12) if rng.random() < 0.3]
        match = {v: rng.randint(0, 20) for v in voters + others if rng.random() < 0.8}
        assert committed_index(voters, match) == committed_index_naive(voters, match), (voters, match)
        votes = {v: rng.random() < 0.5 for v in voters + others if rng.random() < 0.6}
        assert vote_result(voters, votes) == vote_result_naive(voters, votes), (voters, votes)


def test_quorum_examples() -> None:
    assert committed_index((1, 2, 3), {1: 5, 2: 3, 3: 1}) == 3
    assert committed_index((1, 2, 3, 4), {1: 5, 2: 3, 3: 1, 4: 9}) == 3
    assert vote_result((1, 2, 3), {1: True, 2: True}) is VoteResult.WON
    assert vote_result((1, 2, 3), {1: False, 2: False}) is VoteResult.LOST
    assert vote_result((1, 2, 3, 4), {1: True, 2: True, 3: False}) is VoteResult.PENDING
