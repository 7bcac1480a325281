"""The Raft log: durable entries in Storage followed by not-yet-durable ones in Unstable.

Invariants: applied <= committed <= last_index(); committed entries are never truncated (an attempt raises
InvariantViolationError); first_index() - 1 is the index of the latest snapshot, whose term is known.
"""

from __future__ import annotations

from cluster.store.raft.errors import CompactedError, InvariantViolationError, UnavailableError
from cluster.store.raft.log_slice import limit_size
from cluster.store.raft.messages import Entry, Snapshot
from cluster.store.raft.storage import Storage
from cluster.store.raft.unstable import Unstable


class RaftLog:
    __slots__ = ("applied", "committed", "storage", "unstable")

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        first = storage.first_index()
        self.unstable = Unstable(storage.last_index() + 1)
        # Everything up to the snapshot is both committed and applied by definition.
        self.committed = first - 1
        self.applied = first - 1

    def __repr__(self) -> str:
        return (
            f"RaftLog(committed={self.committed}, applied={self.applied}, "
            f"unstable.offset={self.unstable.offset}, unstable.len={len(self.unstable.entries)})"
        )

    # -- bounds and terms --------------------------------------------------------------------------------
    def first_index(self) -> int:
        snap = self.unstable.snapshot
        return snap.index + 1 if snap is not None else self.storage.first_index()

    def last_index(self) -> int:
        unstable = self.unstable
        if unstable.entries:
            return unstable.offset + len(unstable.entries) - 1
        return unstable.snapshot.index if unstable.snapshot is not None else self.storage.last_index()

    def last_term(self) -> int:
        return self.term(self.last_index())

    def term(self, index: int) -> int:
        """Term at index; 0 if it is out of range (compacted away or beyond the end)."""
        term = self.unstable.maybe_term(index)
        if term is not None:
            return term
        if index < self.first_index() - 1 or index > self.last_index():
            return 0
        try:
            return self.storage.term(index)
        except (CompactedError, UnavailableError):
            return 0

    def checked_term(self, index: int) -> int:
        """Term at index, raising CompactedError/UnavailableError when it is not known."""
        term = self.unstable.maybe_term(index)
        if term is not None:
            return term
        if index < self.first_index() - 1:
            raise CompactedError(f"term of {index}: compacted")
        if index > self.last_index():
            raise UnavailableError(f"term of {index}: beyond {self.last_index()}")
        return self.storage.term(index)

    def match_term(self, index: int, term: int) -> bool:
        return self.term(index) == term if index <= self.last_index() else False

    def is_up_to_date(self, last_index: int, last_term: int) -> bool:
        """Whether a log ending at (last_index, last_term) is at least as up to date as ours (§5.4.1)."""
        our_term = self.last_term()
        return last_term > our_term or (last_term == our_term and last_index >= self.last_index())

    # -- appending ---------------------------------------------------------------------------------------
    def append(self, entries: list[Entry]) -> int:
        if not entries:
            return self.last_index()
        if entries[0].index - 1 < self.committed:
            raise InvariantViolationError(
                f"append at {entries[0].index} would truncate committed entries up to {self.committed}"
            )
        self.unstable.truncate_and_append(entries)
        return self.last_index()

    def maybe_append(self, index: int, log_term: int, commit: int, entries: list[Entry]) -> int | None:
        """Follower side of AppendEntries: the new last index, or None if the consistency check fails."""
        if not self.match_term(index, log_term):
            return None
        last_new = index + len(entries)
        conflict = self.find_conflict(entries)
        if conflict:
            if conflict <= self.committed:
                raise InvariantViolationError(f"entry {conflict} conflicts with committed {self.committed}")
            self.append(entries[conflict - index - 1 :])
        self.commit_to(min(commit, last_new))
        return last_new

    def find_conflict(self, entries: list[Entry]) -> int:
        """Index of the first entry that is missing or has another term in our log; 0 if none."""
        for entry in entries:
            if not self.match_term(entry.index, entry.term):
                return entry.index
        return 0

    def find_conflict_by_term(self, index: int, term: int) -> tuple[int, int]:
        """The largest (i, term(i)) with i <= index and term(i) <= term: where the logs may match.

        Lets a leader skip a whole term of conflicting entries per round trip (the reject hint).
        """
        while index > 0:
            our_term = self.term(index)
            if our_term <= term:
                # 0 means compacted or out of range: stop, the leader will find its way from here.
                return index, our_term
            index -= 1
        return 0, 0

    # -- committing and applying -------------------------------------------------------------------------
    def commit_to(self, index: int) -> None:
        if index > self.committed:
            if index > self.last_index():
                raise InvariantViolationError(f"commit {index} beyond last index {self.last_index()}")
            self.committed = index

    def maybe_commit(self, index: int, term: int) -> bool:
        """Commit up to index if its entry is of `term` (the leader's own: Figure 8)."""
        if index > self.committed and self.term(index) == term:
            self.commit_to(index)
            return True
        return False

    def applied_to(self, index: int) -> None:
        if index == 0:
            return
        if index > self.committed or index < self.applied:
            raise InvariantViolationError(f"applied {index} outside [{self.applied}, {self.committed}]")
        self.applied = index

    def has_next_committed_entries(self) -> bool:
        return self.committed > max(self.applied, self.first_index() - 1)

    def next_committed_entries(self) -> list[Entry]:
        lo = max(self.applied + 1, self.first_index())
        return self.slice(lo, self.committed + 1) if self.committed >= lo else []

    # -- snapshots ---------------------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The newest snapshot: the unstable one received from the leader, else the storage's."""
        snap = self.unstable.snapshot
        return snap if snap is not None else self.storage.snapshot()

    def restore(self, snapshot: Snapshot) -> None:
        self.committed = snapshot.index
        self.unstable.restore(snapshot)

    def stable_to(self, index: int, term: int) -> None:
        self.unstable.stable_to(index, term)

    # -- reading entries ---------------------------------------------------------------------------------
    def entries(self, lo: int, max_size: int = 0) -> list[Entry]:
        """Entries from lo to the end (empty if lo is past it); CompactedError if lo is compacted."""
        if lo > self.last_index():
            return []
        return self.slice(lo, self.last_index() + 1, max_size)

    def slice(self, lo: int, hi: int, max_size: int = 0) -> list[Entry]:
        """Entries [lo, hi) from storage then unstable, size-limited but never empty for lo < hi."""
        if lo < self.first_index():
            raise CompactedError(f"entries from {lo}: first index is {self.first_index()}")
        if hi > self.last_index() + 1:
            raise UnavailableError(f"entries up to {hi - 1}: last index is {self.last_index()}")
        if lo >= hi:
            return []
        offset = self.unstable.offset
        result: list[Entry] = []
        if lo < offset:
            result = self.storage.entries(lo, min(hi, offset), max_size)
            if len(result) < min(hi, offset) - lo:
                return result  # size limit reached inside storage
            if hi > offset:
                result = result + self.unstable.slice(offset, hi)
        else:
            result = self.unstable.slice(lo, hi)
        return limit_size(result, max_size)

    def all_entries(self) -> list[Entry]:
        """The whole retained log; for tests and status output."""
        return self.entries(self.first_index())
