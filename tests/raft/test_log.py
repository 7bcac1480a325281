"""RaftLog and Unstable: the boundary between durable and not-yet-durable entries, conflicts, truncation."""

from __future__ import annotations

import pytest

from cluster.store.raft import (
    CompactedError,
    ConfState,
    Entry,
    InvariantViolationError,
    MemoryStorage,
    Snapshot,
)
from cluster.store.raft.log import RaftLog
from cluster.store.raft.unstable import Unstable


def ents(*terms: int, first: int = 1) -> list[Entry]:
    """Entries first, first+1, ... with the given terms."""
    return [Entry(t, first + k, data=f"{first + k}".encode()) for k, t in enumerate(terms)]


def ids(entries: list[Entry]) -> list[tuple[int, int]]:
    return [(e.index, e.term) for e in entries]


def stored_log(*terms: int) -> RaftLog:
    """A log whose entries (terms given) are all in storage."""
    storage = MemoryStorage()
    storage.append(ents(*terms))
    return RaftLog(storage)


# -- Unstable ----------------------------------------------------------------------------------------------
def test_unstable_truncate_and_append_cases() -> None:
    u = Unstable(5)
    u.truncate_and_append(ents(1, 1, first=5))
    assert ids(u.entries) == [(5, 1), (6, 1)]
    u.truncate_and_append(ents(1, first=7))  # contiguous
    assert ids(u.entries) == [(5, 1), (6, 1), (7, 1)]
    u.truncate_and_append(ents(2, 2, first=6))  # replaces a suffix
    assert ids(u.entries) == [(5, 1), (6, 2), (7, 2)]
    u.truncate_and_append(ents(3, first=4))  # replaces everything, reaching into stable entries
    assert (u.offset, ids(u.entries)) == (4, [(4, 3)])


def test_unstable_stable_to_ignores_replaced_entries() -> None:
    u = Unstable(5)
    u.truncate_and_append(ents(1, 1, 1, first=5))
    u.stable_to(6, 2)  # wrong term: that entry was replaced since the Ready
    assert u.offset == 5
    u.stable_to(4, 1)  # before the unstable part
    assert u.offset == 5
    u.stable_to(6, 1)
    assert (u.offset, ids(u.entries)) == (7, [(7, 1)])


def test_unstable_snapshot_bounds() -> None:
    u = Unstable(1)
    assert u.maybe_term(0) is None
    u.restore(Snapshot(index=9, term=3))
    assert (u.maybe_term(9), u.maybe_term(8), u.offset) == (3, None, 10)
    u.stable_snap_to(8)
    assert u.snapshot is not None
    u.stable_snap_to(9)
    assert u.snapshot is None


# -- RaftLog -----------------------------------------------------------------------------------------------
def test_term_and_bounds_span_storage_and_unstable() -> None:
    log = stored_log(1, 1, 2)
    log.append(ents(3, 3, first=4))
    assert (log.first_index(), log.last_index(), log.last_term()) == (1, 5, 3)
    assert [log.term(i) for i in range(0, 7)] == [0, 1, 1, 2, 3, 3, 0]
    assert ids(log.slice(2, 6)) == [(2, 1), (3, 2), (4, 3), (5, 3)]


def test_slice_size_limit_across_the_boundary() -> None:
    log = stored_log(1, 1)
    log.append(ents(1, 1, first=3))
    one = 16 + 1  # envelope + one byte of data
    assert ids(log.slice(1, 5, max_size=1)) == [(1, 1)]
    assert ids(log.slice(1, 5, max_size=3 * one)) == [(1, 1), (2, 1), (3, 1)]
    assert ids(log.slice(2, 5, max_size=2 * one)) == [(2, 1), (3, 1)]


def test_find_conflict() -> None:
    log = stored_log(1, 2, 3)
    assert log.find_conflict(ents(1, 2, 3)) == 0
    assert log.find_conflict(ents(2, 3, first=2)) == 0
    assert log.find_conflict(ents(2, 3, 4, first=2)) == 4  # new entry
    assert log.find_conflict(ents(4, 4, first=2)) == 2  # term mismatch


@pytest.mark.parametrize(
    ("index", "term", "expected"),
    [
        (8, 9, (8, 5)),  # every term <= 9
        (8, 4, (5, 4)),  # skip the term-5 run
        (8, 3, (3, 2)),  # skip the term-5 and term-4 runs
        (2, 1, (1, 1)),
        (8, 0, (0, 0)),
    ],
)
def test_find_conflict_by_term(index: int, term: int, expected: tuple[int, int]) -> None:
    log = stored_log(1, 2, 2, 4, 4, 5, 5, 5)
    assert log.find_conflict_by_term(index, term) == expected


def test_find_conflict_by_term_stops_at_compaction() -> None:
    storage = MemoryStorage()
    storage.apply_snapshot(Snapshot(index=5, term=3, conf_state=ConfState((1,))))
    storage.append(ents(4, 4, first=6))
    log = RaftLog(storage)
    assert log.find_conflict_by_term(7, 3) == (5, 3)
    # Below the snapshot the term is unknown (0): the search stops there and says so.
    assert log.find_conflict_by_term(7, 1) == (4, 0)


def test_maybe_append_truncates_conflicting_suffix() -> None:
    log = stored_log(1, 1, 1, 1)
    log.commit_to(2)
    assert log.maybe_append(2, 1, 3, ents(2, 2, first=3)) == 4
    assert ids(log.all_entries()) == [(1, 1), (2, 1), (3, 2), (4, 2)]
    assert ids(log.unstable.entries) == [(3, 2), (4, 2)]
    assert log.committed == 3  # min(leader commit, last new entry)


def test_maybe_append_rejects_mismatch_and_keeps_log() -> None:
    log = stored_log(1, 1, 2)
    assert log.maybe_append(3, 1, 3, ents(3, first=4)) is None
    assert log.maybe_append(5, 2, 3, ents(3, first=6)) is None  # beyond our end
    assert log.last_index() == 3 and log.committed == 0


def test_maybe_append_of_known_entries_does_not_truncate() -> None:
    log = stored_log(1, 1, 1, 1)
    assert log.maybe_append(1, 1, 0, ents(1, first=2)) == 2  # a stale, shorter MsgApp
    assert log.last_index() == 4


def test_truncating_committed_entries_is_refused() -> None:
    log = stored_log(1, 1, 1)
    log.commit_to(3)
    with pytest.raises(InvariantViolationError):
        log.maybe_append(1, 1, 3, ents(2, 2, first=2))
    with pytest.raises(InvariantViolationError):
        log.commit_to(4)


def test_maybe_commit_only_in_the_given_term() -> None:
    log = stored_log(1, 2)
    assert not log.maybe_commit(2, 3)
    assert log.maybe_commit(2, 2) and log.committed == 2
    assert not log.maybe_commit(1, 1)  # never backwards


def test_next_committed_entries_and_applied() -> None:
    log = stored_log(1, 1)
    log.append(ents(1, first=3))
    log.commit_to(3)
    assert ids(log.next_committed_entries()) == [(1, 1), (2, 1), (3, 1)]
    log.applied_to(2)
    assert ids(log.next_committed_entries()) == [(3, 1)]
    with pytest.raises(InvariantViolationError):
        log.applied_to(4)


def test_restore_snapshot_discards_log() -> None:
    log = stored_log(1, 1, 1)
    log.restore(Snapshot(index=10, term=2, conf_state=ConfState((1,))))
    assert (log.first_index(), log.last_index(), log.committed, log.term(10)) == (11, 10, 10, 2)
    assert log.next_committed_entries() == []
    with pytest.raises(CompactedError):
        log.slice(5, 11)


def test_is_up_to_date() -> None:
    log = stored_log(1, 2, 2)
    assert log.is_up_to_date(3, 2) and log.is_up_to_date(1, 3)
    assert not log.is_up_to_date(2, 2) and not log.is_up_to_date(9, 1)
