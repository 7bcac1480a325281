"""The narrow read interface the Raft core needs from durable storage, and an in-memory implementation.

The core only reads storage. The application writes it while handling a Ready (append entries, set the
hard state, apply a received snapshot) and when it compacts (create_snapshot, then compact).

Invariants of every implementation (checked by tests/raft/storage_conformance.py):
- entries are contiguous from first_index() to last_index(); first_index() == snapshot index + 1;
- term(snapshot index) is the snapshot's term; term(i) below it raises CompactedError, above
  last_index() raises UnavailableError; entries(lo, hi) likewise for lo < first_index() or hi > last+1.
"""

from __future__ import annotations

from typing import Protocol

from cluster.store.raft.errors import CompactedError, SnapshotOutOfDateError, UnavailableError
from cluster.store.raft.log_slice import limit_size
from cluster.store.raft.messages import ConfState, Entry, HardState, Snapshot


class Storage(Protocol):
    """Read access to the durable log; implementations must be safe to call at any time from the core."""

    def initial_state(self) -> tuple[HardState, ConfState]:
        """The persisted hard state and the configuration as of the last applied index."""
        ...

    def entries(self, lo: int, hi: int, max_size: int = 0) -> list[Entry]:
        """Entries [lo, hi), at least one if the range is non-empty, at most max_size bytes (0: no limit)."""
        ...

    def term(self, index: int) -> int:
        """Term of the entry at index; valid from the snapshot index up to last_index()."""
        ...

    def first_index(self) -> int:
        """Index of the first entry that is still available (snapshot index + 1)."""
        ...

    def last_index(self) -> int:
        """Index of the last entry (the snapshot index if there is none)."""
        ...

    def snapshot(self) -> Snapshot:
        """The most recent snapshot."""
        ...


class MemoryStorage:
    """Storage in lists, for tests and for the simulation.

    `_ents[0]` is a dummy entry standing for the snapshot (its index and term), so that term() works at
    the compaction boundary and offsets are one subtraction.
    """

    def __init__(self) -> None:
        self._hard_state = HardState()
        self._snapshot = Snapshot()
        self._ents: list[Entry] = [Entry(term=0, index=0)]

    # -- Storage protocol --------------------------------------------------------------------------------
    def initial_state(self) -> tuple[HardState, ConfState]:
        return self._hard_state, self._snapshot.conf_state

    def entries(self, lo: int, hi: int, max_size: int = 0) -> list[Entry]:
        offset = self._ents[0].index
        if lo <= offset:
            raise CompactedError(f"entries from {lo}: compacted up to {offset}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries up to {hi - 1}: last index is {self.last_index()}")
        return limit_size(self._ents[lo - offset : hi - offset], max_size)

    def term(self, index: int) -> int:
        offset = self._ents[0].index
        if index < offset:
            raise CompactedError(f"term of {index}: compacted up to {offset}")
        if index - offset >= len(self._ents):
            raise UnavailableError(f"term of {index}: last index is {self.last_index()}")
        return self._ents[index - offset].term

    def first_index(self) -> int:
        return self._ents[0].index + 1

    def last_index(self) -> int:
        return self._ents[0].index + len(self._ents) - 1

    def snapshot(self) -> Snapshot:
        return self._snapshot

    # -- writes by the application -----------------------------------------------------------------------
    def set_hard_state(self, hard_state: HardState) -> None:
        self._hard_state = hard_state

    def append(self, entries: list[Entry]) -> None:
        """Append entries, replacing any existing suffix they conflict with; compacted ones are ignored."""
        if not entries:
            return
        first = self.first_index()
        if entries[-1].index < first:
            return
        if entries[0].index < first:
            entries = entries[first - entries[0].index :]
        start = entries[0].index - self._ents[0].index
        if start > len(self._ents):
            raise UnavailableError(f"append at {entries[0].index} leaves a gap after {self.last_index()}")
        del self._ents[start:]
        self._ents.extend(entries)

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        """Replace the whole log by a snapshot received from the leader."""
        if snapshot.index < self._snapshot.index:
            raise SnapshotOutOfDateError(f"snapshot {snapshot.index} older than {self._snapshot.index}")
        self._snapshot = snapshot
        self._ents = [Entry(term=snapshot.term, index=snapshot.index)]

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        """Record the application's state as of applied `index`; the log is kept until compact()."""
        if index <= self._snapshot.index:
            raise SnapshotOutOfDateError(f"snapshot at {index} not newer than {self._snapshot.index}")
        if index > self.last_index():
            raise UnavailableError(f"snapshot at {index} beyond last index {self.last_index()}")
        self._snapshot = Snapshot(index=index, term=self.term(index), conf_state=conf_state, data=data)
        return self._snapshot

    def compact(self, index: int) -> None:
        """Discard entries up to and including `index`, which must be covered by the snapshot."""
        offset = self._ents[0].index
        if index <= offset:
            raise CompactedError(f"compact to {index}: already compacted up to {offset}")
        if index > self._snapshot.index:
            raise UnavailableError(f"compact to {index} beyond snapshot index {self._snapshot.index}")
        del self._ents[: index - offset]
