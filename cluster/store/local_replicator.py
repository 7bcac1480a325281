"""The single-replica Replicator: group commit to a WAL, then apply in log order.

Commit loop (`run`, owned by the node's task group):

    wait for proposals -> take *all* waiting ones as one batch -> append each to the WAL and
    fsync once (in a worker thread, so the event loop keeps accepting proposals, which become
    the next batch) -> apply the batch in order -> report it to `on_applied` -> resolve each
    proposer's future -> maybe snapshot.

So N concurrent proposers cost about one fsync per batch, not N, and no proposer is answered
before its entry is on disk. Every `snapshot_every` entries the state machine's snapshot is
saved (atomically) and the WAL segments it covers are released.

Restart (`open`): load the newest valid snapshot, replay the WAL records after its index; the
result is the state of the last acknowledged write (and perhaps a few durable but
unacknowledged ones, which a client must treat as "may have happened", as with etcd).

Concurrency: everything except WAL/snapshot file I/O runs on the event loop. The WAL is only
touched by the commit loop: from its worker thread while a batch is persisted, from the loop
otherwise, never both at once. Reads never wait for the commit loop: every acknowledged write is
already applied, so the read barrier is immediate for one replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cluster.store.errors import Stopped, StorageError, StoreError
from cluster.store.mvcc import Response, StateMachine
from cluster.store.replicator import Applied, OnApplied, ReplicatorStatus
from cluster.store.snapshot import Snapshot, SnapshotStore
from cluster.store.wal import DEFAULT_SEGMENT_BYTES, WAL
from raykube.store.v1 import store_pb2

log = logging.getLogger(__name__)

ENTRY_RECORD = 1  # WAL record type: one serialized store.v1.Entry


@dataclass(frozen=True)
class LocalOptions:
    snapshot_every: int = 100_000  # etcd's --snapshot-count default
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    fsync: Callable[[int], None] = os.fsync


class LocalReplicator:
    def __init__(
        self,
        machine: StateMachine,
        wal: WAL,
        snapshots: SnapshotStore,
        applied: int,
        snapshot_index: int,
        *,
        member_id: int,
        options: LocalOptions,
    ) -> None:
        """Use `LocalReplicator.open`."""
        self.machine = machine
        self._wal = wal
        self._snapshots = snapshots
        self._applied = applied
        self._snapshot_index = snapshot_index
        self._member_id = member_id
        self._options = options
        self._queue: list[tuple[store_pb2.Entry, asyncio.Future[Response]]] = []
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._next_id = 0
        self.on_applied: OnApplied = lambda batch: None

    @classmethod
    def open(cls, data_dir: Path, *, member_id: int, options: LocalOptions | None = None) -> LocalReplicator:
        """Recover from `data_dir` (snapshot + WAL replay), or start empty."""
        options = options or LocalOptions()
        snapshots = SnapshotStore(data_dir / "snap")
        snap = snapshots.load_newest()
        machine = StateMachine.restore(snap.data) if snap else StateMachine()
        applied = snap.index if snap else 0
        wal, records = WAL.open(
            data_dir / "wal", segment_bytes=options.segment_bytes, fsync=options.fsync, first_seq=applied + 1
        )
        if wal.next_seq <= applied:
            raise StorageError(f"{wal.directory}: log ends at {wal.next_seq - 1}, before snapshot {applied}")
        for record in records:
            if record.seq <= applied:
                continue
            if record.seq != applied + 1:
                raise StorageError(
                    f"{wal.directory}: record {applied + 1} is missing (snapshot at {applied})"
                )
            # An entry refused the first time is refused again: replay only needs the same state.
            with contextlib.suppress(StoreError):
                machine.apply(store_pb2.Entry.FromString(record.data))
            applied = record.seq
        log.info(
            "store recovered: snapshot %s, applied %d, revision %d",
            snap and snap.index,
            applied,
            machine.revision,
        )
        return cls(
            machine, wal, snapshots, applied, snap.index if snap else 0, member_id=member_id, options=options
        )

    # -- Replicator ----------------------------------------------------------------------------

    async def propose(self, entry: store_pb2.Entry) -> Response:
        if self._stopping:
            raise Stopped()
        self._next_id += 1
        entry.id = self._next_id
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._queue.append((entry, future))
        self._wakeup.set()
        return await future

    async def read_barrier(self, serializable: bool) -> None:
        return None  # one replica: every acknowledged write is already applied

    def status(self) -> ReplicatorStatus:
        return ReplicatorStatus(
            member_id=self._member_id,
            leader_id=self._member_id,
            term=1,
            commit_index=self._applied,
            applied_index=self._applied,
        )

    # -- the commit loop -----------------------------------------------------------------------

    async def run(self) -> None:
        """Commit proposals until `stop()` (or a failure, which propagates).

        However it ends, the replicator refuses new proposals and fails queued ones with Stopped.
        """
        try:
            while not self._stopping:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue and not self._stopping:
                    batch, self._queue = self._queue, []
                    await self._commit(batch)
        finally:
            self._stopping = True
            _fail(self._queue)
            self._queue = []

    async def _commit(self, batch: list[tuple[store_pb2.Entry, asyncio.Future[Response]]]) -> None:
        payloads = [entry.SerializeToString() for entry, _ in batch]
        try:
            await asyncio.to_thread(self._persist, payloads)
        except BaseException:
            # A failed write or fsync is not retried (the page cache may have dropped the data):
            # nobody in the batch is acknowledged, and the error stops the node.
            _fail(batch)
            raise
        applied: list[Applied] = []
        outcomes: list[Response | StoreError] = []
        for entry, _ in batch:
            try:
                outcome: Response | StoreError = self.machine.apply(entry)
            except StoreError as err:
                outcome = err
            applied.append((entry, outcome))
            outcomes.append(outcome)
        self._applied += len(batch)
        self.on_applied(applied)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue  # the proposer gave up; its entry is committed all the same
            if isinstance(outcome, StoreError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        if self._applied - self._snapshot_index >= self._options.snapshot_every:
            await self._snapshot()

    def _persist(self, payloads: list[bytes]) -> None:
        for data in payloads:
            self._wal.append(ENTRY_RECORD, data)
        self._wal.sync()

    async def _snapshot(self) -> None:
        """Save the state at the applied index and release the WAL segments it covers."""
        index, data = self._applied, self.machine.snapshot()
        await asyncio.to_thread(self._snapshots.save, Snapshot(index, 0, data))
        self._wal.release(index)
        self._snapshot_index = index

    def stop(self) -> None:
        """Ask `run()` to finish the batch in flight and return."""
        self._stopping = True
        self._wakeup.set()

    def close(self) -> None:
        """Close the WAL; call after `run()` has returned."""
        self._wal.close()

    @property
    def fsync_count(self) -> int:
        return self._wal.sync_count

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self._wal.segment_paths()) + self._snapshots.total_bytes()


def _fail(waiting: list[tuple[store_pb2.Entry, asyncio.Future[Response]]]) -> None:
    for _, future in waiting:
        if not future.done():
            future.set_exception(Stopped())
