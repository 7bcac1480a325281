"""The multi-version keyspace: every retained revision of every key, in key order.

A key's history is a list of `Rev`s, oldest first, one per revision that changed the key
(a transaction changes a key at most once, so `mod` is strictly increasing within a history).
A tombstone (the key deleted at `mod`) has `version == 0`. A key is live at revision R when the
newest Rev with mod <= R exists and is not a tombstone.

Invariants: `_keys` holds exactly the keys of `_hist`, every history is non-empty, and histories
only grow at the end (writes are at increasing revisions) or lose a prefix (compaction).

Compaction at C keeps, per key, the newest Rev with mod <= C unless it is a tombstone (then the
key's older history is gone too: etcd's keyIndex.compact), and everything after C. Reads at any
revision >= C therefore see exactly what they saw before compaction.

Owned by one StateMachine; not thread-safe.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from operator import attrgetter
from typing import NamedTuple

from cluster.store.mvcc.keyrange import KeyRange
from cluster.store.mvcc.sortedkeys import SortedKeys


class Rev(NamedTuple):
    mod: int
    sub: int
    create: int
    version: int  # 0: tombstone
    value: bytes
    lease: int


class Change(NamedTuple):
    """One key changed at one revision; `prev` is the key's Rev just before (None if unknown)."""

    key: bytes
    rev: Rev
    prev: Rev | None


_MOD = attrgetter("mod")


class Keyspace:
    def __init__(self) -> None:
        self._keys = SortedKeys()
        self._hist: dict[bytes, list[Rev]] = {}

    def get(self, key: bytes, rev: int) -> Rev | None:
        """The key's Rev at revision `rev`, or None if it did not exist then."""
        hist = self._hist.get(key)
        if hist is None:
            return None
        return _at(hist, rev)

    def range(self, span: KeyRange, rev: int) -> Iterator[tuple[bytes, Rev]]:
        """(key, Rev) for every key live at `rev` in `span`, in key order."""
        if span.single:
            found = self.get(span.start, rev)
            if found is not None:
                yield span.start, found
            return
        hist = self._hist
        for key in self._keys.irange(span.start, span.end):
            found = _at(hist[key], rev)
            if found is not None:
                yield key, found

    def put(self, key: bytes, value: bytes, lease: int, mod: int, sub: int) -> Change:
        hist = self._hist.get(key)
        if hist is None:
            hist = self._hist[key] = []
            self._keys.add(key)
        prev = hist[-1] if hist else None
        if prev is not None and prev.version:
            rev = Rev(mod, sub, prev.create, prev.version + 1, value, lease)
        else:
            rev = Rev(mod, sub, mod, 1, value, lease)
        hist.append(rev)
        return Change(key, rev, prev)

    def delete(self, key: bytes, mod: int, sub: int) -> Change:
        """Tombstone a key that is live now (the caller checked)."""
        hist = self._hist[key]
        prev = hist[-1]
        rev = Rev(mod, sub, 0, 0, b"", 0)
        hist.append(rev)
        return Change(key, rev, prev)

    def compact(self, rev: int) -> None:
        dead: set[bytes] = set()
        for key, hist in self._hist.items():
            if hist[0].mod > rev:
                continue
            i = bisect_right(hist, rev, key=_MOD) - 1
            if hist[i].version:
                del hist[:i]
            else:
                del hist[: i + 1]
                if not hist:
                    dead.add(key)
        for key in dead:
            del self._hist[key]
        self._keys.remove_all(dead)

    def histories(self) -> Iterator[tuple[bytes, list[Rev]]]:
        """Every key's retained history, in key order."""
        for key in self._keys:
            yield key, self._hist[key]

    @classmethod
    def from_histories(cls, items: Iterable[tuple[bytes, list[Rev]]]) -> Keyspace:
        space = cls()
        space._hist = dict(items)
        space._keys = SortedKeys(space._hist)
        return space


def _at(hist: list[Rev], rev: int) -> Rev | None:
    found = hist[-1]
    if found.mod > rev:
        i = bisect_right(hist, rev, key=_MOD) - 1
        if i < 0:
            return None
        found = hist[i]
    return found if found.version else None
