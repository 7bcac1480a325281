"""The storage conformance suite over every Storage implementation (add the on-disk one to KITS)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from storage_conformance import CHECKS, StorageKit

from cluster.store.raft import MemoryStorage

KITS = [StorageKit("memory", open=MemoryStorage, reopen=lambda s: s)]


@pytest.mark.parametrize("kit", KITS, ids=lambda k: k.name)
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_conformance(kit: StorageKit, check: Callable[[StorageKit], None]) -> None:
    check(kit)
