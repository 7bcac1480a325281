"""One RaftReplicator on its own (a one-member cluster): durability, group commit, snapshots, failures.

Clusters of three are in test_raft_cluster.py (in-process) and test_fault_processes.py (processes).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from cluster.store import errors
from cluster.store.replication.raft_replicator import RaftOptions, RaftReplicator
from raykube.etcd.etcdserverpb import rpc_pb2

from .entries import get, put

FAST = RaftOptions(tick_interval=0.01, request_timeout=2.0)


class CountingFsync:
    """os.fsync with a floor on its duration, so concurrent proposers pile up behind it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        os.fsync(fd)
        time.sleep(self.delay)


async def started(
    data_dir: Path, founders: list[int] | None = None, **options: object
) -> tuple[RaftReplicator, asyncio.Task[None]]:
    replicator = RaftReplicator.open(
        data_dir,
        member_id=1,
        cluster_id=7,
        founders={i: rpc_pb2.Member(name=f"m{i}") for i in founders or [1]},
        options=replace(FAST, **options),  # type: ignore[arg-type]
    )
    return replicator, asyncio.create_task(replicator.run())


async def stopped(replicator: RaftReplicator, task: asyncio.Task[None]) -> None:
    replicator.stop()
    await task
    replicator.close()


def values(replicator: RaftReplicator) -> dict[bytes, bytes]:
    return {kv.key: kv.value for kv in replicator.machine.range(get(b"\0", b"\0")).kvs}


def test_acknowledged_writes_survive_a_crash(tmp_path: Path) -> None:
    async def scenario() -> None:
        replicator, task = await started(tmp_path)
        await asyncio.gather(*(replicator.propose(put(b"k%03d" % i, b"v%d" % i)) for i in range(100)))
        with pytest.raises(errors.LeaseNotFound):
            await replicator.propose(put(b"bad", lease=5))
        task.cancel()  # no stop(), no close(): as if the process died here

    asyncio.run(scenario())

    async def after() -> None:
        replicator, task = await started(tmp_path)
        await replicator.read_barrier(False)  # the log is replayed before the barrier's index applies
        assert len(values(replicator)) == 100 and values(replicator)[b"k042"] == b"v42"
        assert replicator.machine.revision == 101
        resp = await replicator.propose(put(b"more"))
        assert isinstance(resp, rpc_pb2.PutResponse) and resp.header.revision == 102
        status = replicator.status()
        assert status.leader_id == 1 and status.term == 3 and status.applied_index == status.commit_index
        await stopped(replicator, task)

    asyncio.run(after())


def test_group_commit_batches_concurrent_proposers(tmp_path: Path) -> None:
    fsync = CountingFsync(delay=0.005)

    async def scenario() -> None:
        replicator, task = await started(tmp_path, fsync=fsync)
        await replicator.read_barrier(False)  # elected
        before = fsync.calls
        for i in range(5):  # one at a time: one fsync each
            await replicator.propose(put(b"seq%d" % i))
        assert fsync.calls - before == 5
        await asyncio.gather(*(replicator.propose(put(b"c%d" % i)) for i in range(64)))
        assert fsync.calls - before - 5 <= 3, fsync.calls  # 64 proposals, a handful of fsyncs
        assert replicator.fsync_count == fsync.calls
        await stopped(replicator, task)

    asyncio.run(scenario())


def test_snapshots_compact_the_log_and_restart_from_them(tmp_path: Path) -> None:
    async def scenario() -> bytes:
        replicator, task = await started(tmp_path, snapshot_every=25, catchup_entries=5, segment_bytes=512)
        for i in range(120):
            await replicator.propose(put(b"k%d" % (i % 30), b"v%d" % i))
        await stopped(replicator, task)
        return replicator.machine.snapshot()

    before = asyncio.run(scenario())
    snaps = sorted(int(p.stem, 16) for p in (tmp_path / "snap").iterdir())
    assert len(snaps) == 2 and snaps[-1] >= 100  # snapshots every 25 entries; the two newest kept
    assert len(list((tmp_path / "wal").iterdir())) < 10  # segments before the compaction are gone

    async def after() -> None:
        replicator, task = await started(tmp_path, segment_bytes=512)
        await replicator.read_barrier(False)
        assert replicator.machine.snapshot() == before
        await stopped(replicator, task)

    asyncio.run(after())


def test_stop_fails_later_proposals(tmp_path: Path) -> None:
    async def scenario() -> None:
        replicator, task = await started(tmp_path)
        await stopped(replicator, task)
        with pytest.raises(errors.Stopped):
            await replicator.propose(put(b"late"))
        with pytest.raises(errors.Stopped):
            await replicator.read_barrier(False)

    asyncio.run(scenario())


def test_a_failed_fsync_acknowledges_nobody_and_stops(tmp_path: Path) -> None:
    broken_after: list[int] = [0]

    def fsync(fd: int) -> None:
        if broken_after[0]:
            raise OSError(5, "Input/output error")
        os.fsync(fd)

    async def scenario() -> None:
        replicator, task = await started(tmp_path, fsync=fsync)
        await replicator.read_barrier(False)
        broken_after[0] = 1
        results = await asyncio.gather(
            *(replicator.propose(put(b"k%d" % i)) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, errors.Stopped) for r in results), results
        with pytest.raises(OSError, match="Input/output"):
            await task
        with pytest.raises(errors.Stopped):
            await replicator.propose(put(b"after"))

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda r: r.propose(put(b"k")), errors.NoLeader),
        (lambda r: r.read_barrier(False), errors.NoLeader),
    ],
)
def test_without_a_quorum_requests_fail_within_the_timeout(
    tmp_path: Path, call: Callable[[RaftReplicator], object], error: type[Exception]
) -> None:
    async def scenario() -> None:
        # A founder of three whose peers never start: it can never elect a leader.
        replicator, task = await started(tmp_path, founders=[1, 2, 3], request_timeout=0.3)
        began = time.monotonic()
        with pytest.raises(error):
            await call(replicator)  # type: ignore[misc]
        assert 0.3 <= time.monotonic() - began < 1.0
        assert replicator.status().leader_id == 0
        await stopped(replicator, task)

    asyncio.run(scenario())
