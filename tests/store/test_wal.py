"""The WAL and snapshot files: recovery, torn tails, corruption, rotation, release."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from cluster.store.errors import CorruptLogError
from cluster.store.replication.snapshot import Snapshot, SnapshotStore
from cluster.store.replication.wal import WAL, encode


def write(directory: Path, records: list[bytes], **kw: int) -> WAL:
    wal, _ = WAL.open(directory, **kw)
    for data in records:
        wal.append(1, data)
    wal.sync()
    return wal


def recovered(directory: Path, **kw: int) -> list[tuple[int, int, bytes]]:
    wal, records = WAL.open(directory, **kw)
    wal.close()
    return [(r.seq, r.type, r.data) for r in records]


def test_write_and_recover(tmp_path: Path) -> None:
    wal = write(tmp_path, [b"a", b"bb"])
    assert wal.append(7, b"") == 3
    wal.close()
    assert recovered(tmp_path) == [(1, 1, b"a"), (2, 1, b"bb"), (3, 7, b"")]
    wal, _ = WAL.open(tmp_path)
    assert wal.append(1, b"next") == 4
    wal.close()
    assert recovered(tmp_path)[-1] == (4, 1, b"next")


def test_nothing_is_written_before_sync(tmp_path: Path) -> None:
    wal, _ = WAL.open(tmp_path)
    wal.append(1, b"pending")
    assert recovered(tmp_path) == []
    wal.sync()
    assert recovered(tmp_path) == [(1, 1, b"pending")]
    count = wal.sync_count
    wal.sync()
    assert wal.sync_count == count  # nothing new: no fsync


@pytest.mark.parametrize("cut", [1, 5, 9, 10, 12])  # inside the header, at its end, inside the body
def test_torn_tail_is_cut_with_a_warning(tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, [b"first", b"second!"]).close()
    segment = next(tmp_path.glob("*.wal"))
    whole = segment.read_bytes()
    segment.write_bytes(whole[: len(encode(1, b"first")) + cut])
    with caplog.at_level(logging.WARNING):
        assert recovered(tmp_path) == [(1, 1, b"first")]
    assert "torn tail" in caplog.text and str(segment) in caplog.text
    assert segment.stat().st_size == len(encode(1, b"first"))  # cut on disk, so appends follow cleanly
    write(tmp_path, [b"again"]).close()
    assert recovered(tmp_path) == [(1, 1, b"first"), (2, 1, b"again")]


def test_bad_crc_on_the_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    write(tmp_path, [b"first", b"second"]).close()
    segment = next(tmp_path.glob("*.wal"))
    raw = bytearray(segment.read_bytes())
    raw[-1] ^= 0xFF
    segment.write_bytes(raw)
    assert recovered(tmp_path) == [(1, 1, b"first")]


def test_corruption_in_the_middle_is_refused(tmp_path: Path) -> None:
    write(tmp_path, [b"first", b"second", b"third"]).close()
    segment = next(tmp_path.glob("*.wal"))
    raw = bytearray(segment.read_bytes())
    offset = len(encode(1, b"first"))
    raw[offset + 9] ^= 0xFF  # first byte of the second record's data
    segment.write_bytes(raw)
    with pytest.raises(CorruptLogError) as err:
        WAL.open(tmp_path)
    assert err.value.offset == offset and err.value.path == segment
    assert f"{segment}: corrupt record at byte offset {offset}: CRC mismatch" == str(err.value)


def test_rotation_release_and_corrupt_older_segment(tmp_path: Path) -> None:
    wal = write(tmp_path, [bytes([i]) * 46 for i in range(10)], segment_bytes=100)  # 55-byte records
    paths = wal.segment_paths()  # two records per segment, and an empty one opened after the tenth
    assert [p.name for p in paths][:2] == ["0000000000000001.wal", "0000000000000003.wal"]
    assert len(paths) == 6 and paths[-1].stat().st_size == 0
    wal.release(4)  # segments 1-2 and 3-4 are covered; 5-6 is not
    assert [p.name[-7:] for p in wal.segment_paths()] == ["005.wal", "007.wal", "009.wal", "00b.wal"]
    wal.release(100)
    assert len(wal.segment_paths()) == 1  # the newest segment always stays
    wal.close()
    assert recovered(tmp_path, segment_bytes=100) == []  # 11 is next, nothing after the release
    wal = write(tmp_path, [b"x" * 60, b"y" * 60, b"z"], segment_bytes=100)
    wal.close()
    assert [seq for seq, _, _ in recovered(tmp_path, segment_bytes=100)] == [11, 12, 13]
    older = wal.segment_paths()[0]
    older.write_bytes(older.read_bytes()[:-3])  # a short tail in a segment that is not the last
    with pytest.raises(CorruptLogError, match=str(older)):
        WAL.open(tmp_path)


def test_missing_segment_is_refused(tmp_path: Path) -> None:
    wal = write(tmp_path, [b"x" * 60 for _ in range(6)], segment_bytes=100)
    wal.close()
    wal.segment_paths()[1].unlink()
    with pytest.raises(CorruptLogError, match="expected"):
        WAL.open(tmp_path)


def test_snapshots_newest_valid_wins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SnapshotStore(tmp_path, keep=2)
    assert store.load_newest() is None
    store.save(Snapshot(10, 0, b"ten"))
    store.save(Snapshot(20, 0, b"twenty"))
    newest = store.save(Snapshot(30, 1, b"thirty"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0000000000000014.snap", "000000000000001e.snap"]
    assert store.load_newest() == Snapshot(30, 1, b"thirty")
    raw = bytearray(newest.read_bytes())
    raw[-1] ^= 1
    newest.write_bytes(raw)
    with caplog.at_level(logging.WARNING):
        assert store.load_newest() == Snapshot(20, 0, b"twenty")
    assert "skipping snapshot" in caplog.text
    (tmp_path / "0000000000000028.tmp").write_bytes(b"half")
    SnapshotStore(tmp_path)
    assert not list(tmp_path.glob("*.tmp"))
