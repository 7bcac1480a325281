"""The single-replica replicator: durability across restarts, group commit, snapshots."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cluster.store import errors
from cluster.store.local_replicator import LocalOptions, LocalReplicator
from raykube.etcd.etcdserverpb import rpc_pb2

from .entries import get, put


class CountingFsync:
    """os.fsync with a floor on its duration, so concurrent proposers pile up behind it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls = 0

    def __call__(self, fd: int) -> None:
        self.calls += 1
        os.fsync(fd)
        time.sleep(self.delay)


async def started(data_dir: Path, **options: object) -> tuple[LocalReplicator, asyncio.Task[None]]:
    replicator = LocalReplicator.open(data_dir, member_id=1, options=LocalOptions(**options))  # type: ignore[arg-type]
    return replicator, asyncio.create_task(replicator.run())


def values(replicator: LocalReplicator) -> dict[bytes, bytes]:
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
        assert len(values(replicator)) == 100 and values(replicator)[b"k042"] == b"v42"
        assert replicator.machine.revision == 101
        assert replicator.status().applied_index == 101  # the refused entry is in the log too
        resp = await replicator.propose(put(b"more"))
        assert isinstance(resp, rpc_pb2.PutResponse) and resp.header.revision == 102
        replicator.stop()
        await task
        replicator.close()

    asyncio.run(after())


def test_group_commit_batches_concurrent_proposers(tmp_path: Path) -> None:
    fsync = CountingFsync(delay=0.005)

    async def scenario() -> None:
        replicator, task = await started(tmp_path, fsync=fsync)
        for i in range(5):  # one at a time: one fsync each
            await replicator.propose(put(b"seq%d" % i))
        assert fsync.calls == 5
        await asyncio.gather(*(replicator.propose(put(b"c%d" % i)) for i in range(64)))
        assert fsync.calls - 5 <= 3, fsync.calls  # 64 proposals, a handful of fsyncs
        assert replicator.fsync_count == fsync.calls
        replicator.stop()
        await task
        replicator.close()

    asyncio.run(scenario())


def test_snapshots_release_the_wal_and_restart_from_them(tmp_path: Path) -> None:
    async def scenario() -> bytes:
        replicator, task = await started(tmp_path, snapshot_every=25, segment_bytes=512)
        for i in range(120):
            await replicator.propose(put(b"k%d" % (i % 30), b"v%d" % i))
        replicator.stop()
        await task
        replicator.close()
        return replicator.machine.snapshot()

    before = asyncio.run(scenario())
    snaps = sorted((tmp_path / "snap").iterdir())
    assert [p.name for p in snaps] == ["0000000000000064.snap", "000000000000004b.snap"][::-1]  # 75, 100
    first_left = min(int(p.stem, 16) for p in (tmp_path / "wal").iterdir())
    assert 75 < first_left <= 101  # segments wholly before the newest snapshot are gone
    reopened = LocalReplicator.open(tmp_path, member_id=1, options=LocalOptions(segment_bytes=512))
    assert reopened.machine.snapshot() == before
    assert reopened.status().applied_index == 120
    reopened.close()


def test_stop_fails_queued_proposals(tmp_path: Path) -> None:
    async def scenario() -> None:
        replicator, task = await started(tmp_path)
        replicator.stop()
        await task
        with pytest.raises(errors.Stopped):
            await replicator.propose(put(b"late"))
        replicator.close()

    asyncio.run(scenario())


def test_a_failed_fsync_acknowledges_nobody_and_stops(tmp_path: Path) -> None:
    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    async def scenario() -> None:
        replicator, task = await started(tmp_path, fsync=broken)
        results = await asyncio.gather(
            *(replicator.propose(put(b"k%d" % i)) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, errors.Stopped) for r in results), results
        with pytest.raises(OSError, match="Input/output"):
            await task
        with pytest.raises(errors.Stopped):
            await replicator.propose(put(b"after"))

    asyncio.run(scenario())
