"""A second host (a second Ray node with its own host:<name> resource) gets its own kubelet and pods.

The second "host" joins with `raykube join` from a RAYKUBE_HOME of its own: a Ray node on this
machine joining the test's cluster on loopback, as PLATFORM.md suggests for simulating hosts; both kubelets drive the same Podman, each seeing only
the containers labelled with its node.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.e2e.cluster import Cluster, pod_manifest
from tests.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def second_host(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"{cluster.node}-b"
    second = Cluster(tmp_path_factory.mktemp("second-home"), name)  # the second machine's own RAYKUBE_HOME
    head = (cluster.home / "ray-address").read_text().strip()
    assert "joined the cluster" in second.raykube("join", head, f"--node-name={name}").stdout
    try:
        placed = cluster.up()  # up again on the first host: only the new host's kubelet is missing
        assert f"kubelet-{name}" in placed
        yield name
    finally:
        deleted = cluster.raykube(
            "delete", "pod", "--now", "pinned", *(f"spread-{i}" for i in range(4)), check=False
        )
        assert "left the cluster" in second.raykube("leave").stdout
        assert deleted.returncode == 0, deleted.stderr
        assert cluster.containers(node=name) == [], "the second host's kubelet removed its pods' containers"


def test_both_hosts_are_ready_nodes(cluster: Cluster, second_host: str) -> None:
    def both_ready() -> bool:
        nodes = cluster.raykube("get", "nodes").stdout
        return all(re.search(rf"^{re.escape(n)}\s+Ready", nodes, re.M) for n in (cluster.node, second_host))

    eventually(both_ready, timeout=60, what="both nodes Ready")


def test_a_pod_pinned_to_the_second_host_runs_there(cluster: Cluster, second_host: str) -> None:
    cluster.apply(pod_manifest("pinned", "sleep 100000",
                               extra=f"  nodeSelector: {{kubernetes.io/hostname: {second_host}}}\n"))  # fmt: skip
    pod = eventually(lambda: (p := cluster.get("pod", "pinned"))["status"].get("phase") == "Running" and p,
                     what="pinned running")  # fmt: skip
    assert pod["spec"]["nodeName"] == second_host
    [container] = cluster.containers(**{"pod-uid": pod["metadata"]["uid"], "container-name": "main"})
    assert container["Labels"]["io.raykube.node"] == second_host


def test_pods_spread_across_hosts(cluster: Cluster, second_host: str) -> None:
    for i in range(4):
        cluster.apply(pod_manifest(f"spread-{i}", "sleep 100000").replace(
            "    command:", "    resources: {requests: {cpu: 100m, memory: 64Mi}}\n    command:"))  # fmt: skip
    placed = Counter(
        eventually(
            lambda i=i: cluster.get("pod", f"spread-{i}")["spec"].get("nodeName"), what=f"spread-{i} bound"
        )
        for i in range(4)
    )
    assert set(placed) == {cluster.node, second_host}, placed
