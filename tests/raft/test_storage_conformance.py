"""The storage conformance suite over every Storage implementation (add the on-disk one to KITS)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from storage_conformance import CHECKS, StorageKit, WritableStorage

from cluster.store.raft import MemoryStorage
from cluster.store.replication.raft_storage import DiskStorage

_DISK_ROOT = tempfile.TemporaryDirectory(prefix="raykube-raft-storage-")  # removed at exit


def _open_disk() -> DiskStorage:
    return DiskStorage.open(Path(tempfile.mkdtemp(dir=_DISK_ROOT.name)))


def _reopen_disk(storage: WritableStorage) -> DiskStorage:
    assert isinstance(storage, DiskStorage)
    storage.close()
    return DiskStorage.open(storage.directory)


KITS = [
    StorageKit("memory", open=MemoryStorage, reopen=lambda s: s),
    StorageKit("disk", open=_open_disk, reopen=_reopen_disk),
]


@pytest.mark.parametrize("kit", KITS, ids=lambda k: k.name)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(kit: StorageKit, check: Callable[[StorageKit], None]) -> None:
    check(kit)
