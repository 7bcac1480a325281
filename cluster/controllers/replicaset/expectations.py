"""Expectations: what a controller is still waiting to see, so a lagging cache never makes it act twice.

After asking for N pods, a ReplicaSet controller expects N pod additions; until its informer has
seen them (or `ttl` passed, in case some never come), it does not count pods again, or it would
create the same pods twice. The same holds for deletions, tracked by pod key. (Kubernetes'
ControllerExpectations / UIDTrackingControllerExpectations.)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Expected:
    adds: int = 0
    deletes: set[str] = field(default_factory=set)
    since: float = 0.0


class Expectations:
    def __init__(self, *, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._clock = clock
        self._expected: dict[str, _Expected] = {}

    def satisfied(self, key: str) -> bool:
        """Nothing is outstanding for `key` (or what was, has waited longer than the TTL)."""
        expected = self._expected.get(key)
        if expected is None:
            return True
        return (expected.adds <= 0 and not expected.deletes) or self._clock() - expected.since > self._ttl

    def expect_creations(self, key: str, count: int) -> None:
        self._expected[key] = _Expected(adds=count, since=self._clock())

    def expect_deletions(self, key: str, pods: Iterable[str]) -> None:
        self._expected[key] = _Expected(deletes=set(pods), since=self._clock())

    def creation_observed(self, key: str) -> None:
        """A pod of `key` appeared (or a creation failed and will not appear)."""
        expected = self._expected.get(key)
        if expected is not None:
            expected.adds -= 1

    def deletion_observed(self, key: str, pod: str) -> None:
        expected = self._expected.get(key)
        if expected is not None:
            expected.deletes.discard(pod)

    def forget(self, key: str) -> None:
        self._expected.pop(key, None)
