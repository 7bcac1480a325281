"""The on-disk Raft storage: what a crash keeps, torn tails, corruption, compaction releasing segments.

The shared conformance suite (tests/raft/test_storage_conformance.py) covers the Storage semantics;
these tests cover the files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cluster.store.errors import CorruptLogError, StorageError
from cluster.store.raft import ConfState, Entry, HardState, Snapshot
from cluster.store.replication.raft_codec import snapshot_to_pb
from cluster.store.replication.raft_storage import DiskStorage
from cluster.store.replication.snapshot import Snapshot as SnapshotFile
from cluster.store.replication.snapshot import SnapshotStore


def run(first: int, last: int, term: int = 1, size: int = 10) -> list[Entry]:
    return [Entry(term, i, data=b"%d" % i * size) for i in range(first, last + 1)]


def segments(directory: Path) -> list[Path]:
    return sorted((directory / "wal").glob("*.wal"))


def test_synced_writes_survive_a_crash_and_unsynced_ones_do_not(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 3))
    s.set_hard_state(HardState(term=2, vote=1, commit=3))
    s.sync()
    s.append(run(4, 5, term=2))  # buffered only: lost in the crash below
    s = DiskStorage.open(tmp_path)  # no close(): as if the process died
    assert (s.first_index(), s.last_index()) == (1, 3)
    assert s.initial_state() == (HardState(2, 1, 3), ConfState())
    assert [e.data for e in s.entries(1, 4)] == [b"1" * 10, b"2" * 10, b"3" * 10]


def test_a_replaced_suffix_stays_replaced_after_reopen(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 5))
    s.append(run(3, 4, term=2))
    s.close()
    s = DiskStorage.open(tmp_path)
    assert [(e.index, e.term) for e in s.entries(1, s.last_index() + 1)] == [(1, 1), (2, 1), (3, 2), (4, 2)]


def test_a_torn_tail_is_cut_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 3))
    s.sync()
    s.append(run(4, 6))
    s.close()
    (segment,) = segments(tmp_path)
    data = segment.read_bytes()
    segment.write_bytes(data[:-7])  # the crash tore the last record
    with caplog.at_level(logging.WARNING):
        s = DiskStorage.open(tmp_path)
    assert "torn tail" in caplog.text
    assert s.last_index() == 3
    s.append(run(4, 4, term=3))  # and the log goes on from there
    s.close()
    assert DiskStorage.open(tmp_path).term(4) == 3


def test_corruption_before_the_tail_refuses_to_start_naming_file_and_offset(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 3))
    s.set_hard_state(HardState(1, 1, 3))
    s.append(run(4, 6))
    s.close()
    (segment,) = segments(tmp_path)
    data = bytearray(segment.read_bytes())
    data[20] ^= 0xFF  # inside the first record's body
    segment.write_bytes(bytes(data))
    with pytest.raises(CorruptLogError) as caught:
        DiskStorage.open(tmp_path)
    assert caught.value.path == segment and caught.value.offset == 0
    assert str(segment) in str(caught.value) and "offset 0" in str(caught.value)


def test_compaction_releases_covered_segments_and_reopens_the_same(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path, segment_bytes=300)
    for first in range(1, 100, 5):
        s.append(run(first, first + 4))
        s.set_hard_state(HardState(1, 1, first + 4))
        s.sync()
    before = len(segments(tmp_path))
    assert before > 5
    s.create_snapshot(80, ConfState((1, 2, 3)), b"state@80")
    s.compact(70)
    s.sync()
    after = len(segments(tmp_path))
    assert after < before
    assert len(list((tmp_path / "snap").glob("*.snap"))) == 1
    s = DiskStorage.open(tmp_path, segment_bytes=300)
    assert (s.first_index(), s.last_index()) == (71, 100)
    assert s.term(70) == 1 and s.entries(71, 72)[0].data == b"71" * 10
    assert s.initial_state() == (HardState(1, 1, 100), ConfState((1, 2, 3)))
    assert s.snapshot().data == b"state@80"


def test_a_snapshot_from_the_leader_replaces_the_log_across_reopen(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 4))
    s.apply_snapshot(Snapshot(index=50, term=3, conf_state=ConfState((1, 2)), data=b"s50"))
    s.append(run(51, 52, term=3))
    s.close()
    s = DiskStorage.open(tmp_path)
    assert (s.first_index(), s.last_index()) == (51, 52)
    assert s.snapshot() == Snapshot(50, 3, ConfState((1, 2)), b"s50")
    assert s.initial_state()[0].commit == 50  # a snapshot is committed by definition


def test_a_saved_snapshot_whose_record_was_lost_becomes_the_start(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 4))
    s.set_hard_state(HardState(1, 0, 4))
    s.close()
    # As if the process died between writing the snapshot file and logging it.
    snap = Snapshot(index=9, term=2, conf_state=ConfState((1,)), data=b"s9")
    SnapshotStore(tmp_path / "snap").save(SnapshotFile(9, 2, snapshot_to_pb(snap).SerializeToString()))
    s = DiskStorage.open(tmp_path)
    assert (s.first_index(), s.last_index(), s.snapshot()) == (10, 9, snap)
    assert s.initial_state()[0] == HardState(1, 0, 9)


def test_a_compacted_log_without_its_snapshot_refuses_to_start(tmp_path: Path) -> None:
    s = DiskStorage.open(tmp_path)
    s.append(run(1, 6))
    s.create_snapshot(5, ConfState((1,)), b"s5")
    s.compact(4)
    s.close()
    for path in (tmp_path / "snap").glob("*.snap"):
        path.unlink()
    with pytest.raises(StorageError, match="no snapshot"):
        DiskStorage.open(tmp_path)
