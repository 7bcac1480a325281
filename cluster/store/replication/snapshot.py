"""Snapshot files: the state machine's bytes at a log position, written atomically.

A snapshot `<index, 16 hex digits>.snap` holds

    magic b"RKSNAP01" | index u64 | term u64 | data length u64 | crc32 u32 (over the data) | data

Writing: a temporary file is written and fsynced, renamed into place, and the directory fsynced;
a crash leaves either the old set of snapshots or the new one, never a half file under a real
name. Loading: the newest snapshot whose header and CRC check out wins; a damaged one is skipped
with a warning (the WAL still holds what the older one lacks, since segments are released only
after a newer snapshot is safely on disk). Older snapshots beyond `keep` are deleted after a save.

`index` is the position of the last log record the snapshot covers (the WAL seq today, the
Raft index later); `term` is for Raft and 0 in the single replica. Not thread-safe: one caller.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from cluster.store.replication.wal import fsync_dir

log = logging.getLogger(__name__)

_MAGIC = b"RKSNAP01"
_HEADER = struct.Struct("<8sQQQI")
_SUFFIX = ".snap"


@dataclass(frozen=True, slots=True)
class Snapshot:
    index: int
    term: int
    data: bytes


class SnapshotStore:
    def __init__(self, directory: Path, keep: int = 2) -> None:
        self.directory = directory
        self.keep = keep
        directory.mkdir(parents=True, exist_ok=True)
        for leftover in directory.glob("*.tmp"):
            leftover.unlink()

    def save(self, snapshot: Snapshot) -> Path:
        data = snapshot.data
        header = _HEADER.pack(_MAGIC, snapshot.index, snapshot.term, len(data), zlib.crc32(data))
        path = self.directory / f"{snapshot.index:016x}{_SUFFIX}"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.rename(path)
        fsync_dir(self.directory)
        for old in self._paths()[self.keep :]:
            old.unlink()
        return path

    def load_newest(self) -> Snapshot | None:
        for path in self._paths():
            snapshot = _read(path)
            if snapshot is not None:
                return snapshot
        return None

    def _paths(self) -> list[Path]:
        """Snapshot files, newest first."""
        return sorted(self.directory.glob(f"*{_SUFFIX}"), reverse=True)

    def total_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._paths())


def _read(path: Path) -> Snapshot | None:
    raw = path.read_bytes()
    if len(raw) < _HEADER.size:
        log.warning("%s: skipping snapshot: shorter than its header", path)
        return None
    magic, index, term, length, crc = _HEADER.unpack_from(raw)
    data = raw[_HEADER.size :]
    if magic != _MAGIC or length != len(data) or zlib.crc32(data) != crc:
        log.warning("%s: skipping snapshot: bad magic, length or CRC", path)
        return None
    return Snapshot(index, term, data)
