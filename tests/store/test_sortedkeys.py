"""SortedKeys against a plain sorted list, across chunk splits and bulk removal."""

from __future__ import annotations

import random

from cluster.store.mvcc.sortedkeys import SortedKeys


def test_matches_a_sorted_list() -> None:
    rng = random.Random(3)
    keys = SortedKeys()
    model: set[bytes] = set()
    for _ in range(5000):
        k = rng.randbytes(rng.randrange(1, 4))
        keys.add(k)
        model.add(k)
    assert list(keys) == sorted(model) and len(keys) == len(model)
    for _ in range(200):
        lo, hi = sorted([rng.randbytes(2), rng.randbytes(2)])
        assert list(keys.irange(lo, hi)) == [k for k in sorted(model) if lo <= k < hi]
        assert list(keys.irange(lo, None)) == [k for k in sorted(model) if lo <= k]
    dead = set(rng.sample(sorted(model), 2000))
    keys.remove_all(dead)
    assert list(keys) == sorted(model - dead)
    keys.add(b"\x00")
    assert next(iter(keys)) == b"\x00"
