"""The lease table as state-machine data: which leases exist, their granted TTL, their keys.

Time does not live here. When a lease expires is decided by the shell's clock
(cluster/store/lease_timers.py), which then proposes a LeaseRevoke entry like any client would;
the state machine only records grants and revokes, so every replica holds the same table.

A grant with ID 0 gets an ID from a counter mixed with splitmix64 (large, etcd-looking, and the
same on every replica); user-chosen IDs are taken as given.
Invariants: `_keys[id]` is exactly the set of live keys whose newest revision carries lease id.
Owned by one StateMachine; not thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cluster.store.errors import LeaseExists, LeaseNotFound, LeaseTTLTooLarge

MAX_LEASE_TTL = 9_000_000_000  # seconds, etcd's MaxLeaseTTL
MIN_LEASE_TTL = 1
_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class LeaseTable:
    def __init__(self, granted: Iterable[tuple[int, int]] = (), seq: int = 0) -> None:
        self._granted: dict[int, int] = dict(granted)
        self._keys: dict[int, set[bytes]] = {lease: set() for lease in self._granted}
        self.seq = seq

    def __contains__(self, lease: int) -> bool:
        return lease in self._granted

    def grant(self, lease: int, ttl: int) -> tuple[int, int]:
        """Create a lease; returns (id, ttl) as granted."""
        if ttl > MAX_LEASE_TTL:
            raise LeaseTTLTooLarge()
        if lease == 0:
            lease = self._next_id()
        elif lease in self._granted:
            raise LeaseExists()
        ttl = max(ttl, MIN_LEASE_TTL)
        self._granted[lease] = ttl
        self._keys[lease] = set()
        return lease, ttl

    def _next_id(self) -> int:
        while True:
            self.seq += 1
            lease = _splitmix64(self.seq) & ((1 << 63) - 1)
            if lease and lease not in self._granted:
                return lease

    def revoke(self, lease: int) -> list[bytes]:
        """Forget a lease; returns its keys, sorted (the caller deletes them)."""
        if lease not in self._granted:
            raise LeaseNotFound()
        del self._granted[lease]
        return sorted(self._keys.pop(lease))

    def attach(self, lease: int, key: bytes) -> None:
        self._keys[lease].add(key)

    def detach(self, lease: int, key: bytes) -> None:
        self._keys[lease].discard(key)

    def granted_ttl(self, lease: int) -> int:
        if lease not in self._granted:
            raise LeaseNotFound()
        return self._granted[lease]

    def keys(self, lease: int) -> list[bytes]:
        if lease not in self._granted:
            raise LeaseNotFound()
        return sorted(self._keys[lease])

    def items(self) -> Iterator[tuple[int, int]]:
        """(id, granted TTL) for every lease, by id."""
        for lease in sorted(self._granted):
            yield lease, self._granted[lease]
