"""Supervision on a real cluster: a crash inside any component's long-running work makes its actor
exit; Ray restarts it in a new process, and it serves again.

Each test injects a crash (cluster.supervision.inject_crash) into one named loop of one kind of
component, waits for the actor to come back with a new PID, and checks the component's own job.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from cluster.bootstrap.ray_node import free_port
from tests.e2e.cluster import Cluster, pod_manifest, restarted
from tests.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Like conftest's, but the API server keeps its port across restarts, so the CLI follows it."""
    running = Cluster(tmp_path_factory.mktemp("home"), f"e2e-supervision-{os.getpid()}")
    try:
        running.up(apiserver_port=free_port())
        yield running
    finally:
        running.raykube("down", "--purge", check=False)


def crash(cluster: Cluster, component: str, loop: str) -> str:
    """Crash `loop` inside `component`; wait until Ray has restarted it; its address afterwards."""
    import ray

    with cluster.ray_driver() as actor:
        host = actor(component)
        before = ray.get(host.info.remote(), timeout=30)
        assert ray.get(host.inject_crash.remote(loop), timeout=30) == 1, f"{component} runs no loop {loop!r}"
        restarted(host, before["pid"])
        address: str = ray.get(host.address.remote(), timeout=60)
        return address


def test_a_crashed_store_replica_comes_back_and_serves_linearizable_reads(cluster: Cluster) -> None:
    address = crash(cluster, "store-1", "raft tick")
    cluster.apply(pod_manifest("written-after-store-crash", "sleep 100000"))

    def read_through_it() -> str:
        done = subprocess.run(["etcdctl", f"--endpoints={address}", "get", "--prefix", "--keys-only", "/registry/pods/"],
                              capture_output=True, text=True, env={**os.environ, "ETCDCTL_API": "3"}, check=False)  # fmt: skip
        return done.stdout if done.returncode == 0 else ""

    keys = eventually(read_through_it, timeout=30, what="a linearizable read through the restarted replica")
    assert "/registry/pods/default/written-after-store-crash" in keys


def test_a_crashed_api_server_comes_back_with_its_watch_caches(cluster: Cluster) -> None:
    crash(cluster, "apiserver", "watch cache pods")
    # Through the restarted API server's pod watch cache: the scheduler's and the kubelet's watches
    # (they find the new server through Ray), and `raykube wait`'s (the CLI's config still holds).
    cluster.apply(pod_manifest("watched-after-apiserver-crash", "sleep 100000"))
    cluster.wait_ready("watched-after-apiserver-crash")


def test_a_crashed_scheduler_and_kubelet_come_back_and_run_a_new_pod(cluster: Cluster) -> None:
    crash(cluster, "scheduler", "scheduler pod informer")
    crash(cluster, f"kubelet-{cluster.node}", "kubelet relister")
    cluster.apply(pod_manifest("runs-after-crashes", "sleep 100000"))
    cluster.wait_ready("runs-after-crashes")
    pod = cluster.get("pod", "runs-after-crashes")
    assert pod["spec"]["nodeName"] == cluster.node
    [container] = cluster.containers(**{"pod-uid": pod["metadata"]["uid"], "container-name": "main"})
    assert container["State"] == "running"
