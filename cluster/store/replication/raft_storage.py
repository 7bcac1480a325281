"""Raft's durable state on disk: the raft Storage protocol over the WAL and the snapshot files.

Why this shape: the Raft core reads its log only through the narrow Storage protocol
(cluster/store/raft/storage.py), and MemoryStorage answers those reads from lists. DiskStorage is
a MemoryStorage whose writes also go to disk: reads never touch a file, and both pass the same
conformance suite (tests/raft/storage_conformance.py).

On disk, in `directory`:

    wal/   segments of cluster/store/wal.py, with four record types:
           ENTRIES     a run of entries as one Ready appended them (a RaftEntries message)
           HARD_STATE  term, vote, commit
           SNAPSHOT    index, term: the log was replaced by a snapshot from the leader
           COMPACT     index, term: the entries up to index were discarded (a snapshot covers them)
    snap/  files of cluster/store/snapshot.py, each a RaftSnapshot (config and application data)

Durability: every write method changes memory at once and queues its file work; `sync()` does
the queued work in this order: snapshot files (each fsynced, then renamed into place), the WAL
records with one fsync, then the deletion of WAL segments a compaction made obsolete. So a WAL
record never refers to a snapshot file that is not on disk yet, and a segment goes only after
the records that supersede it (the COMPACT record and a fresh HARD_STATE) are durable.

Recovery (`open`): the WAL is read (a torn tail is cut off with a warning; damage anywhere else
raises CorruptLogError naming the file and byte offset) and its records are replayed in order;
the newest valid snapshot file becomes `snapshot()`. A snapshot file that is durable while the
record announcing it is not (a crash in between) is adopted as the log's new start. A log that
cannot be rebuilt (a gap between runs, a compaction that no snapshot covers) raises StorageError:
the node must not start on it.

Concurrency: reads and the write methods run on one thread (the Raft shell's event loop); `sync()`
may run in a worker thread while that loop goes on reading, provided no write method is called
until it returns (the shell's ready loop awaits it before its next write).
"""

from __future__ import annotations

import logging
import os
import struct
from collections import deque
from collections.abc import Callable
from pathlib import Path

from cluster.store.errors import StorageError
from cluster.store.raft import ConfState, Entry, HardState, MemoryStorage, Snapshot
from cluster.store.raft import StorageError as RaftStorageError
from cluster.store.replication import snapshot as snapfile
from cluster.store.replication.raft_codec import (
    entries_from_bytes,
    entries_to_bytes,
    snapshot_from_pb,
    snapshot_to_pb,
)
from cluster.store.replication.wal import DEFAULT_SEGMENT_BYTES, WAL, Record
from raykube.store.v1 import store_pb2

log = logging.getLogger(__name__)

ENTRIES, HARD_STATE, SNAPSHOT, COMPACT = 10, 11, 12, 13  # WAL record types
_HARD_STATE = struct.Struct("<QQQ")
_POSITION = struct.Struct("<QQ")


class DiskStorage(MemoryStorage):
    def __init__(self, directory: Path, wal: WAL, snapshots: snapfile.SnapshotStore) -> None:
        """Use `DiskStorage.open`."""
        super().__init__()
        self.directory = directory
        self._wal = wal
        self._snapshots = snapshots
        self._files: list[Snapshot] = []  # snapshots to write at the next sync()
        # (WAL seq, last index) of each ENTRIES record (and SNAPSHOT record) that may still be
        # needed, oldest first: what a compaction may release.
        self._runs: deque[tuple[int, int]] = deque()
        self._release_to = 0  # WAL seq up to which segments can go at the next sync()

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: Callable[[int], None] = os.fsync,
    ) -> DiskStorage:
        """Recover the Raft state in `directory`, or start empty."""
        snapshots = snapfile.SnapshotStore(directory / "snap")
        wal, records = WAL.open(directory / "wal", segment_bytes=segment_bytes, fsync=fsync)
        storage = cls(directory, wal, snapshots)
        storage._replay(records)
        storage._adopt(snapshots.load_newest())
        log.info(
            "raft log recovered from %s: entries %d..%d, snapshot at %d, %s",
            directory,
            storage.first_index(),
            storage.last_index(),
            storage.snapshot().index,
            storage.initial_state()[0],
        )
        return storage

    # -- writes: memory now, files at sync() ---------------------------------------------------------------
    def set_hard_state(self, hard_state: HardState) -> None:
        super().set_hard_state(hard_state)
        self._wal.append(HARD_STATE, _HARD_STATE.pack(hard_state.term, hard_state.vote, hard_state.commit))

    def append(self, entries: list[Entry]) -> None:
        if not entries:
            return
        super().append(entries)
        seq = self._wal.append(ENTRIES, entries_to_bytes(entries))
        self._runs.append((seq, entries[-1].index))

    def apply_snapshot(self, snapshot: Snapshot) -> None:
        super().apply_snapshot(snapshot)
        self._files.append(snapshot)
        seq = self._wal.append(SNAPSHOT, _POSITION.pack(snapshot.index, snapshot.term))
        self._runs.clear()  # everything logged before is replaced
        self._runs.append((seq, snapshot.index))

    def create_snapshot(self, index: int, conf_state: ConfState, data: bytes) -> Snapshot:
        snapshot = super().create_snapshot(index, conf_state, data)
        self._files.append(snapshot)
        return snapshot

    def compact(self, index: int) -> None:
        super().compact(index)
        hard_state = self._hard_state
        # The newest hard state must outlive the segments released below: log it again.
        first_kept = self._wal.append(
            HARD_STATE, _HARD_STATE.pack(hard_state.term, hard_state.vote, hard_state.commit)
        )
        self._wal.append(COMPACT, _POSITION.pack(index, self.term(index)))
        while self._runs and self._runs[0][1] <= index:
            self._runs.popleft()
        if self._runs:
            first_kept = self._runs[0][0]
        self._release_to = first_kept - 1

    def sync(self) -> None:
        """Make every write so far durable (snapshot files, then one WAL fsync), then release segments."""
        files, self._files = self._files, []
        for snap in files:
            data = snapshot_to_pb(snap).SerializeToString()
            self._snapshots.save(snapfile.Snapshot(snap.index, snap.term, data))
        self._wal.sync()
        if self._release_to:
            self._wal.release(self._release_to)
            self._release_to = 0

    @property
    def has_pending_files(self) -> bool:
        """Snapshot files or a segment release wait for the next sync()."""
        return bool(self._files or self._release_to)

    @property
    def sync_count(self) -> int:
        return self._wal.sync_count

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._wal.segment_paths()) + self._snapshots.total_bytes()

    def close(self) -> None:
        self.sync()
        self._wal.close()

    # -- recovery --------------------------------------------------------------------------------------
    def _replay(self, records: list[Record]) -> None:
        for record in records:
            if record.type == ENTRIES:
                self._replay_entries(record)
            elif record.type == HARD_STATE:
                self._hard_state = HardState(*_HARD_STATE.unpack(record.data))
            elif record.type == SNAPSHOT:
                index, term = _POSITION.unpack(record.data)
                self._ents = [Entry(term, index)]
                self._runs.clear()
                self._runs.append((record.seq, index))
            elif record.type == COMPACT:
                self._replay_compact(*_POSITION.unpack(record.data))
            else:
                raise StorageError(f"{self._wal.directory}: record {record.seq}: unknown type {record.type}")

    def _replay_entries(self, record: Record) -> None:
        entries = entries_from_bytes(record.data)
        if not entries:
            return
        if self._ents == [Entry(0, 0)] and entries[0].index > 1:
            # Older records were released after a compaction; the COMPACT record that follows
            # sets the term of the log's start.
            self._ents = [Entry(0, entries[0].index - 1)]
        try:
            super().append(entries)
        except RaftStorageError as err:
            raise StorageError(f"{self._wal.directory}: record {record.seq}: {err}") from err
        self._runs.append((record.seq, entries[-1].index))

    def _replay_compact(self, index: int, term: int) -> None:
        offset = self._ents[0].index
        if index >= self.last_index():
            self._ents = [Entry(term, index)]
        elif index > offset:
            del self._ents[: index - offset]
            self._ents[0] = Entry(term, index)
        while self._runs and self._runs[0][1] <= index:
            self._runs.popleft()

    def _adopt(self, found: snapfile.Snapshot | None) -> None:
        """Make the newest snapshot file the storage's snapshot, checking it fits the replayed log."""
        start = self._ents[0].index
        if found is None:
            if start:
                raise StorageError(f"{self.directory}: log compacted up to {start} but no snapshot found")
            return
        snap = snapshot_from_pb(store_pb2.RaftSnapshot.FromString(found.data))
        if snap.index < start:
            raise StorageError(
                f"{self.directory}: newest valid snapshot is at {snap.index}, the log starts after {start}"
            )
        if snap.index > self.last_index() or self.term(snap.index) != snap.term:
            log.warning("%s: snapshot %d saved, not logged: log restarts there", self.directory, snap.index)
            self._ents = [Entry(snap.term, snap.index)]
        if self._hard_state.commit < snap.index:
            hs = self._hard_state
            self._hard_state = HardState(hs.term, hs.vote, snap.index)  # a snapshot is committed state
        self._snapshot = snap
