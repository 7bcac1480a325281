"""A generic write-ahead log: numbered records of (type, bytes) in append-only segment files.

Why generic: the single-replica store logs whole entries here today; the Raft shell will log
its entries and hard state through the same class, each with its own record types.

On disk, a directory of segments named `<first seq, 16 hex digits>.wal`; each record is

    length u32 | type u8 | crc32 u32 (over the type byte and the data) | data (length bytes)

little-endian. Records are numbered consecutively from 1 across segments (`seq`), so a segment's
name and its record count say which records it holds.

Durability: `append()` only buffers; `sync()` writes the buffer and fsyncs the segment. Nothing
may be acknowledged before the `sync()` covering it returns. Creating or removing a segment also
fsyncs the directory, so the new name survives a crash.

Recovery (`WAL.open`): every record is checked. A damaged record that ends the last segment (a
short header, a short body, or a CRC mismatch on the final record) is a torn write from a crash:
it is cut off with a warning. Damage anywhere else, or a gap between segments, raises
CorruptLogError naming the file and byte offset, and the node refuses to start.

Rotation: after the record that takes a segment past `segment_bytes`, the segment is synced and
closed and the next record opens a new one. `release(seq)` deletes segments whose records all
have seq <= the given one (covered by a snapshot); the newest segment is never deleted.

Concurrency: not thread-safe. One caller at a time (the node's commit loop, from its worker
thread) appends, syncs and releases.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cluster.store.errors import CorruptLogError

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<IBI")
_SUFFIX = ".wal"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    type: int
    data: bytes


def encode(rtype: int, data: bytes) -> bytes:
    return _HEADER.pack(len(data), rtype, zlib.crc32(data, zlib.crc32(bytes((rtype,))))) + data


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WAL:
    def __init__(
        self,
        directory: Path,
        segments: list[tuple[int, Path]],
        next_seq: int,
        *,
        segment_bytes: int,
        fsync: Callable[[int], None],
    ) -> None:
        """Use `WAL.open`; this takes over an already recovered directory."""
        self.directory = directory
        self._segments = segments  # (first seq, path), oldest first; the last one is open
        self._next_seq = next_seq
        self._segment_bytes = segment_bytes
        self._fsync = fsync
        self._buf = bytearray()
        self._fd = os.open(segments[-1][1], os.O_WRONLY | os.O_APPEND)
        self._size = os.fstat(self._fd).st_size
        self._dirty = False
        self.sync_count = 0

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: Callable[[int], None] = os.fsync,
        first_seq: int = 1,
    ) -> tuple[WAL, list[Record]]:
        """Recover the log in `directory`; returns it and its records.

        A directory without segments gets a new, empty log whose first record will be `first_seq`.
        """
        directory.mkdir(parents=True, exist_ok=True)
        segments = sorted((int(p.stem, 16), p) for p in directory.glob(f"*{_SUFFIX}"))
        records: list[Record] = []
        if not segments:
            first = directory / _segment_name(first_seq)
            first.touch()
            fsync_dir(directory)
            segments = [(first_seq, first)]
        next_seq = segments[0][0]
        for i, (first_seq, path) in enumerate(segments):
            if first_seq != next_seq:
                raise CorruptLogError(path, 0, f"segment starts at record {first_seq}, expected {next_seq}")
            found = _read_segment(path, first_seq, last=i == len(segments) - 1)
            records += found
            next_seq = first_seq + len(found)
        return cls(directory, segments, next_seq, segment_bytes=segment_bytes, fsync=fsync), records

    @property
    def next_seq(self) -> int:
        """The seq the next appended record will get."""
        return self._next_seq

    def append(self, rtype: int, data: bytes) -> int:
        """Buffer one record; returns its seq. Not durable until `sync()`."""
        self._buf += encode(rtype, data)
        seq = self._next_seq
        self._next_seq += 1
        if self._size + len(self._buf) >= self._segment_bytes:
            self._rotate()
        return seq

    def sync(self) -> None:
        """Write what is buffered and fsync it: every record appended so far is durable."""
        self._write()
        if self._dirty:
            self._fsync(self._fd)
            self.sync_count += 1
            self._dirty = False

    def _write(self) -> None:
        data, self._buf = bytes(self._buf), bytearray()
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
            self._size += written
            self._dirty = True

    def _rotate(self) -> None:
        self.sync()
        os.close(self._fd)
        path = self.directory / _segment_name(self._next_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._size = 0
        fsync_dir(self.directory)
        self._segments.append((self._next_seq, path))

    def release(self, seq: int) -> None:
        """Delete segments whose records all have seq <= `seq` (they are in a snapshot)."""
        keep = 0
        while keep + 1 < len(self._segments) and self._segments[keep + 1][0] <= seq + 1:
            keep += 1
        if keep:
            for _, path in self._segments[:keep]:
                path.unlink()
            del self._segments[:keep]
            fsync_dir(self.directory)

    def segment_paths(self) -> list[Path]:
        return [path for _, path in self._segments]

    def close(self) -> None:
        self.sync()
        os.close(self._fd)


def _segment_name(first_seq: int) -> str:
    return f"{first_seq:016x}{_SUFFIX}"


def _read_segment(path: Path, first_seq: int, *, last: bool) -> list[Record]:
    data = path.read_bytes()
    records: list[Record] = []
    offset, size = 0, len(data)
    while offset < size:
        problem = None
        if size - offset < _HEADER.size:
            problem, end = "short record header", size
        else:
            length, rtype, crc = _HEADER.unpack_from(data, offset)
            end = offset + _HEADER.size + length
            if end > size:
                problem = f"record of {length} bytes runs past the end of the file"
            else:
                body = data[offset + _HEADER.size : end]
                if zlib.crc32(body, zlib.crc32(bytes((rtype,)))) != crc:
                    problem = "CRC mismatch"
        if problem is not None:
            if last and end >= size:
                log.warning("%s: cutting torn tail at byte offset %d (%s)", path, offset, problem)
                _truncate(path, offset)
                return records
            raise CorruptLogError(path, offset, problem)
        records.append(Record(first_seq + len(records), rtype, body))
        offset = end
    return records


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
