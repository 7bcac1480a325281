"""`raykube up` is idempotent, and `raykube down` leaves no process, container or config behind."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.e2e.cluster import Cluster, pod_manifest
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def placement(table: str) -> dict[str, tuple[str, str]]:
    """component -> (address, pid) from the table `raykube up` prints."""
    rows = [
        line.split()
        for line in table.splitlines()
        if re.match(r"(store-|apiserver|scheduler-|controller-manager-|kubelet-|proxy-)", line)
    ]
    return {row[0]: (row[2], row[3]) for row in rows}


def test_up_twice_then_down_leaves_nothing(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "home", f"e2e-lifecycle-{os.getpid()}")
    try:
        first = placement(cluster.up())
        assert set(first) == {
            "store-0",
            "store-1",
            "store-2",
            "apiserver",
            "scheduler-0",
            "scheduler-1",
            "controller-manager-0",
            "controller-manager-1",
            f"kubelet-{cluster.node}",
            f"proxy-{cluster.node}",
        }
        again = cluster.up()
        assert "Ray: using the cluster at" in again
        assert placement(again) == first  # nothing restarted, nothing duplicated

        cluster.apply(pod_manifest("lifecycle", "sleep 100000"))
        eventually(
            lambda: cluster.get("pod", "lifecycle")["status"].get("phase") == "Running", what="pod running"
        )
        assert cluster.containers(node=cluster.node)
        nodes = cluster.raykube("get", "nodes").stdout
        assert re.search(rf"^{cluster.node}\s+Ready", nodes, re.M)
        assert cluster.leftovers()["nftables tables"] == ["table ip raykube"]  # the proxy's
    finally:
        down = cluster.down()
    assert "The cluster is down." in down
    assert f"kubelet-{cluster.node}: containers removed" in down  # by its kubelet, not the safety net
    assert f"proxy-{cluster.node}: Service rules removed" in down  # by its proxy
    assert cluster.leftovers() == {"containers": [], "pods": [], "ray processes": [], "podman services": [],
                                   "nftables tables": []}  # fmt: skip
    assert not (cluster.home / "kubeconfig").exists()
    after = cluster.raykube("get", "pods", check=False)
    assert after.returncode == 1 and "run `raykube up` first" in after.stderr
