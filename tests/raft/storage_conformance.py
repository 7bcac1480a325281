"""Conformance checks every Storage implementation must pass (the in-memory one and the on-disk one).

An implementation plugs in with a StorageKit: how to open a fresh, empty instance and how to reopen one
as a restarted process would see it (the same object for memory; close and open the files on disk).
Add a kit to tests/raft/test_storage_conformance.py::KITS, or call `run_all(kit)` from your own test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pytest

from cluster.store.raft import (
    CompactedError,
    ConfState,
    Entry,
    HardState,
    Snapshot,
    SnapshotOutOfDateError,
    Storage,
    StorageError,
    UnavailableError,
)


class WritableStorage(Storage, Protocol):
    """Storage plus the writes the application performs (see MemoryStorage for the semantics)."""

    def set_hard_state(self, hard_state: HardState) -> None: ...
    def append(self, entries: list[Entry]) -> None: ...
    def apply_snapshot(self, snapshot: Snapshot) -> None: ...
    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot: ...
    def compact(self, index: int) -> None: ...


@dataclass(frozen=True)
class StorageKit:
    name: str
    open: Callable[[], WritableStorage]
    reopen: Callable[[WritableStorage], WritableStorage]


def run(first: int, last: int, term: int = 1) -> list[Entry]:
    """Entries first..last of one term, with data e<index>."""
    return [Entry(term, i, data=f"e{i}".encode()) for i in range(first, last + 1)]


def check_empty(kit: StorageKit) -> None:
    s = kit.open()
    assert (s.first_index(), s.last_index()) == (1, 0)
    assert s.term(0) == 0
    assert s.initial_state() == (HardState(), ConfState())
    assert s.entries(1, 1) == []
    with pytest.raises(UnavailableError):
        s.term(1)
    with pytest.raises(UnavailableError):
        s.entries(1, 2)


def check_append_and_read(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 5))
    assert (s.first_index(), s.last_index()) == (1, 5)
    assert [e.index for e in s.entries(1, 6)] == [1, 2, 3, 4, 5]
    assert [e.data for e in s.entries(2, 4)] == [b"e2", b"e3"]
    assert s.term(5) == 1
    with pytest.raises(UnavailableError):
        s.entries(1, 7)
    with pytest.raises(UnavailableError):
        s.term(6)


def check_append_replaces_conflicting_suffix(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 5))
    s.append(run(3, 4, term=2))
    assert s.last_index() == 4
    assert [(e.index, e.term) for e in s.entries(1, 5)] == [(1, 1), (2, 1), (3, 2), (4, 2)]


def check_append_with_gap_fails(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 3))
    with pytest.raises(StorageError):
        s.append(run(5, 6))
    assert s.last_index() == 3


def check_max_size(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 5))
    assert len(s.entries(1, 6, max_size=1)) == 1  # never empty
    all_five = s.entries(1, 6)
    assert s.entries(1, 6, max_size=0) == all_five
    two = s.entries(1, 6, max_size=2 * (16 + 2))
    assert [e.index for e in two] == [1, 2]


def check_snapshot_and_compact(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 5) + run(6, 8, term=2))
    cs = ConfState((1, 2, 3))
    snap = s.create_snapshot(6, cs, b"state@6")
    assert (snap.index, snap.term, snap.conf_state, snap.data) == (6, 2, cs, b"state@6")
    assert s.snapshot() == snap
    assert s.first_index() == 1  # creating a snapshot keeps the log
    s.compact(4)
    assert (s.first_index(), s.last_index()) == (5, 8)
    assert s.term(4) == 1  # the compaction point's term stays known
    with pytest.raises(CompactedError):
        s.term(3)
    with pytest.raises(CompactedError):
        s.entries(4, 6)
    assert [e.index for e in s.entries(5, 9)] == [5, 6, 7, 8]
    with pytest.raises(StorageError):
        s.compact(7)  # beyond the snapshot
    with pytest.raises(CompactedError):
        s.compact(3)  # already compacted
    with pytest.raises(SnapshotOutOfDateError):
        s.create_snapshot(5, cs, b"old")
    with pytest.raises(UnavailableError):
        s.create_snapshot(9, cs, b"future")
    s.compact(6)
    assert (s.first_index(), s.last_index()) == (7, 8)
    assert s.term(6) == 2
    assert s.initial_state()[1] == cs


def check_append_over_compacted_prefix(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 5))
    s.create_snapshot(3, ConfState((1,)), b"")
    s.compact(3)
    s.append(run(1, 2, term=1))  # entirely compacted: ignored
    assert (s.first_index(), s.last_index()) == (4, 5)
    s.append(run(2, 6, term=1))  # overlap is trimmed to what is still stored
    assert (s.first_index(), s.last_index()) == (4, 6)


def check_apply_snapshot(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 3))
    cs = ConfState((1, 2))
    s.apply_snapshot(Snapshot(index=10, term=4, conf_state=cs, data=b"s"))
    assert (s.first_index(), s.last_index()) == (11, 10)
    assert s.term(10) == 4
    assert s.snapshot().data == b"s"
    assert s.initial_state()[1] == cs
    s.append(run(11, 12, term=4))
    assert s.last_index() == 12
    with pytest.raises(SnapshotOutOfDateError):
        s.apply_snapshot(Snapshot(index=9, term=4, conf_state=cs))


def check_survives_reopen(kit: StorageKit) -> None:
    s = kit.open()
    s.append(run(1, 6))
    s.set_hard_state(HardState(term=3, vote=2, commit=5))
    s.create_snapshot(4, ConfState((1, 2, 3)), b"four")
    s.compact(2)
    s = kit.reopen(s)
    assert s.initial_state() == (HardState(3, 2, 5), ConfState((1, 2, 3)))
    assert (s.first_index(), s.last_index()) == (3, 6)
    assert [e.data for e in s.entries(3, 7)] == [b"e3", b"e4", b"e5", b"e6"]
    assert s.snapshot().data == b"four"


CHECKS: list[Callable[[StorageKit], None]] = [
    check_empty,
    check_append_and_read,
    check_append_replaces_conflicting_suffix,
    check_append_with_gap_fails,
    check_max_size,
    check_snapshot_and_compact,
    check_append_over_compacted_prefix,
    check_apply_snapshot,
    check_survives_reopen,
]


def run_all(kit: StorageKit) -> None:
    for check in CHECKS:
        check(kit)
