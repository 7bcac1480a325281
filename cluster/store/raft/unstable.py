"""The part of the log that the application has been handed but not yet confirmed durable.

Entries live here from the moment the core appends them until advance() reports them stable; a snapshot
received from the leader likewise until it is persisted. Invariant: if `snapshot` is set, `offset` is
`snapshot.index + 1`; `entries[k]` has index `offset + k`.
"""

from __future__ import annotations

from cluster.store.raft.messages import Entry, Snapshot


class Unstable:
    __slots__ = ("entries", "offset", "snapshot")

    def __init__(self, offset: int) -> None:
        self.snapshot: Snapshot | None = None
        self.entries: list[Entry] = []
        self.offset = offset

    def maybe_term(self, index: int) -> int | None:
        if index < self.offset:
            snap = self.snapshot
            return snap.term if snap is not None and snap.index == index else None
        k = index - self.offset
        return self.entries[k].term if k < len(self.entries) else None

    def stable_to(self, index: int, term: int) -> None:
        """Entries up to (index, term) are durable; ignored if that entry was replaced meanwhile."""
        if index < self.offset or self.maybe_term(index) != term:
            return
        del self.entries[: index + 1 - self.offset]
        self.offset = index + 1

    def stable_snap_to(self, index: int) -> None:
        if self.snapshot is not None and self.snapshot.index == index:
            self.snapshot = None

    def restore(self, snapshot: Snapshot) -> None:
        self.offset = snapshot.index + 1
        self.entries = []
        self.snapshot = snapshot

    def truncate_and_append(self, entries: list[Entry]) -> None:
        """Append, first dropping any unstable entries at or after the first new index."""
        first = entries[0].index
        if first == self.offset + len(self.entries):
            self.entries.extend(entries)
        elif first <= self.offset:
            # Everything unstable is replaced; the new run may also replace stable entries.
            self.offset = first
            self.entries = list(entries)
        else:
            del self.entries[first - self.offset :]
            self.entries.extend(entries)

    def slice(self, lo: int, hi: int) -> list[Entry]:
        return self.entries[lo - self.offset : hi - self.offset]
