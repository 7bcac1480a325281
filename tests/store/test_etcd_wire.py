"""Wire check: the same scripted conversation against Debian's real etcd and against our store.

Both are driven through raykube's generated stubs (proto/raykube/etcd/...), so equal transcripts
show that our messages and field numbers are etcd's and that the semantics agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from . import wire_scenario
from .conftest import StoreThread
from .etcd_process import ETCD, RealEtcd

pytestmark = pytest.mark.skipif(ETCD is None, reason="needs Debian's etcd-server package (etcd 3.4)")


@pytest.fixture
def real_etcd(tmp_path: Path) -> Iterator[RealEtcd]:
    etcd = RealEtcd(tmp_path / "etcd")
    yield etcd
    etcd.stop()


def test_our_store_answers_like_etcd(real_etcd: RealEtcd, tmp_path: Path) -> None:
    with grpc.insecure_channel(real_etcd.target) as ch:
        theirs = wire_scenario.run(ch)
    ours_node = StoreThread(tmp_path / "ours")
    try:
        with ours_node.channel() as ch:
            ours = wire_scenario.run(ch)
    finally:
        ours_node.stop()
    assert len(ours) == len(theirs) > 50
    for (label, mine), (their_label, expected) in zip(ours, theirs, strict=True):
        assert label == their_label
        assert mine == expected, f"{label}: ours differs from etcd's"
    assert dict(ours)["cas ok"]["succeeded"] is True  # the scenario really exercised something
