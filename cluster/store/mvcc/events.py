"""The applied-change history, grouped by revision: the one buffer every watcher reads from.

The state machine appends each write's changes under its revision; watchers keep only the next
revision they want and read forward from here (cluster/store/watch.py), so replaying the past and
delivering live changes are one code path and no per-watcher queue can grow without bound.

Invariants: revisions are strictly increasing; every batch is non-empty and ordered by sub-revision.
Compaction at C drops batches below C and the deletes at C (etcd's backend drops tombstones at
or below the compaction revision), so a watch from C replays what etcd would replay.
Owned by one StateMachine; not thread-safe.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

from cluster.store.mvcc.keyspace import Change


class EventLog:
    def __init__(self) -> None:
        self._revs: list[int] = []
        self._batches: list[tuple[Change, ...]] = []

    def append(self, rev: int, changes: Iterable[Change]) -> None:
        self._revs.append(rev)
        self._batches.append(tuple(changes))

    def since(self, rev: int, max_revisions: int) -> list[tuple[int, tuple[Change, ...]]]:
        """Up to `max_revisions` batches with revision >= rev, oldest first."""
        i = bisect_left(self._revs, rev)
        j = i + max_revisions
        return list(zip(self._revs[i:j], self._batches[i:j], strict=True))

    def compact(self, rev: int) -> None:
        i = bisect_left(self._revs, rev)
        del self._revs[:i], self._batches[:i]
        if self._revs and self._revs[0] == rev:
            puts = tuple(c for c in self._batches[0] if c.rev.version)
            if puts:
                self._batches[0] = puts
            else:
                del self._revs[0], self._batches[0]

    @classmethod
    def from_changes(cls, changes: Iterable[Change]) -> EventLog:
        """Rebuild the log from every retained change, in any order (used on restore)."""
        log = cls()
        for change in sorted(changes, key=lambda c: (c.rev.mod, c.rev.sub)):
            if log._revs and log._revs[-1] == change.rev.mod:
                log._batches[-1] += (change,)
            else:
                log.append(change.rev.mod, (change,))
        return log
