"""`raykube up` is idempotent, and `raykube down` leaves no process, container or config behind."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from grpc_health.v1 import health_pb2

from cluster.tls import Tls, open_channel
from tests.e2e.cluster import Cluster, pod_manifest
from tests.polling import eventually
from tests.probes import services, status

pytestmark = pytest.mark.e2e


def placement(table: str) -> dict[str, tuple[str, str]]:
    """component -> (address, pid) from the table `raykube up` prints."""
    rows = [
        line.split()
        for line in table.splitlines()
        if re.match(r"(store-|apiserver-|scheduler-|controller-manager-|kubelet-|proxy-)", line)
    ]
    return {row[0]: (row[2], row[3]) for row in rows}


SERVICES = {  # what reflection lists besides health and reflection themselves
    "store": {"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease", "etcdserverpb.Maintenance",
              "etcdserverpb.Cluster", "raykube.store.v1.StoreKV"},
    "apiserver": {"raykube.v1.Api"},
    "kubelet": {"raykube.v1.Kubelet"},
}  # fmt: skip


def probe_all(cluster: Cluster, placed: dict[str, tuple[str, str]]) -> dict[str, tuple[int, set[str]]]:
    """component -> (health, services beyond health and reflection), over TLS as the admin."""
    pki = cluster.home / "pki"
    admin = Tls(*((pki / name).read_text() for name in ("ca.crt", "admin.crt", "admin.key")))

    async def one(address: str) -> tuple[int, set[str]]:
        async with open_channel(address, admin) as channel:
            standard = {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}
            return await status(channel), await services(channel) - standard

    async def every() -> dict[str, tuple[int, set[str]]]:
        return {name: await one(address) for name, (address, _) in placed.items()}

    return asyncio.run(every())


def test_up_twice_then_down_leaves_nothing(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path / "home", f"e2e-lifecycle-{os.getpid()}")
    try:
        first = placement(cluster.up())
        assert set(first) == {
            "store-0",
            "store-1",
            "store-2",
            "apiserver-0",
            "scheduler-0",
            "scheduler-1",
            "controller-manager-0",
            "controller-manager-1",
            f"kubelet-{cluster.node}",
            f"proxy-{cluster.node}",
        }
        for name, (health, served) in probe_all(cluster, first).items():
            assert health == health_pb2.HealthCheckResponse.SERVING, name
            assert served == SERVICES.get(name.split("-")[0], set()), name
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
