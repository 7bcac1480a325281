"""Supervision on a real cluster: a crash inside any component's long-running work makes its actor
exit; Ray restarts it in a new process, and it serves again.

Each test injects a crash (cluster.supervision.inject_crash) into one named loop of one kind of
component, waits for the actor to come back with a new PID, and checks the component's own job.
"""

from __future__ import annotations

import os
import time
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
        running.up(grpc_port=free_port())
        yield running
    finally:
        running.raykube("down", "--purge", check=False)


def crash(cluster: Cluster, loop: str, *replicas: str) -> str:
    """Crash `loop` in the one replica of a component that runs it (the leader, for the scheduler
    and controller manager); wait until Ray has restarted that one; its address afterwards."""
    import ray

    with cluster.ray_driver() as actor:
        hosts = {name: actor(name) for name in replicas}
        pids = {name: ray.get(host.info.remote(), timeout=30)["pid"] for name, host in hosts.items()}
        hit = [name for name, host in hosts.items() if ray.get(host.inject_crash.remote(loop), timeout=30)]
        assert len(hit) == 1, f"{loop!r} should run in exactly one of {replicas}, runs in {hit}"
        restarted(hosts[hit[0]], pids[hit[0]])
        address: str = ray.get(hosts[hit[0]].address.remote(), timeout=60)
        return address


def test_a_crashed_store_replica_comes_back_and_serves_linearizable_reads(cluster: Cluster) -> None:
    address = crash(cluster, "raft tick", "store-1")
    cluster.apply(pod_manifest("written-after-store-crash", "sleep 100000"))

    def read_through_it() -> str:
        done = cluster.etcdctl(
            f"--endpoints={address}", "get", "--prefix", "--keys-only", "/registry/pods/", check=False
        )
        return done.stdout if done.returncode == 0 else ""

    keys = eventually(read_through_it, timeout=30, what="a linearizable read through the restarted replica")
    assert "/registry/pods/default/written-after-store-crash" in keys


def test_a_crashed_api_server_comes_back_with_its_watch_caches(cluster: Cluster) -> None:
    crash(cluster, "watch cache pods", "apiserver-0")
    # Through the restarted API server's pod watch cache: the scheduler's and the kubelet's watches
    # (they find the new server through Ray), and `raykube wait`'s (the CLI's config still holds).
    cluster.apply(pod_manifest("watched-after-apiserver-crash", "sleep 100000"))
    cluster.wait_ready("watched-after-apiserver-crash")


def test_a_crashed_scheduler_and_kubelet_come_back_and_run_a_new_pod(cluster: Cluster) -> None:
    crash(cluster, "scheduler pod informer", "scheduler-0", "scheduler-1")
    crash(cluster, "kubelet relister", f"kubelet-{cluster.node}")
    cluster.apply(pod_manifest("runs-after-crashes", "sleep 100000"))
    cluster.wait_ready("runs-after-crashes")
    pod = cluster.get("pod", "runs-after-crashes")
    assert pod["spec"]["nodeName"] == cluster.node
    [container] = cluster.containers(**{"pod-uid": pod["metadata"]["uid"], "container-name": "main"})
    assert container["State"] == "running"


def test_a_crashed_controller_manager_comes_back_and_its_successor_keeps_a_replica_set(
    cluster: Cluster,
) -> None:
    crash(cluster, "replicaset-controller worker 0", "controller-manager-0", "controller-manager-1")
    cluster.apply(REPLICA_SET)
    eventually(lambda: cluster.get("rs", "kept")["status"].get("readyReplicas") == 1, timeout=90,
               what="the ReplicaSet's pod ready, under the next leader")  # fmt: skip
    cluster.raykube("delete", "rs", "kept")


REPLICA_SET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: kept}
spec:
  replicas: 1
  selector: {matchLabels: {app: kept}}
  template:
    metadata: {labels: {app: kept}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: main, image: localhost/busybox:1.35, command: [sleep, "100000"]}]
"""


@pytest.mark.parametrize(("lease", "replicas"), [("kube-controller-manager", "controller-manager"),
                                                 ("kube-scheduler", "scheduler")])  # fmt: skip
def test_a_standby_takes_over_within_20_s_of_the_leader_being_killed(
    cluster: Cluster, lease: str, replicas: str
) -> None:
    import ray

    def holder() -> str:
        spec = cluster.get("lease", lease, namespace="kube-system")["spec"]
        return str(spec.get("holderIdentity", ""))

    leader = eventually(holder, timeout=30, what=f"a {lease} leader")
    with cluster.ray_driver() as actor:
        hosts = {name: actor(f"{replicas}-{i}") for i, name in enumerate(("0", "1"))}
        pids = {name: ray.get(host.info.remote(), timeout=30)["pid"] for name, host in hosts.items()}
        [leading] = [name for name, pid in pids.items() if leader.endswith(f"_{pid}")]
        killed_at = time.monotonic()
        ray.kill(hosts[leading], no_restart=False)  # the process dies at once, holding the lease
        successor = eventually(
            lambda: (h := holder()) not in ("", leader) and h, timeout=30, what="a new leader"
        )
        took = time.monotonic() - killed_at
    print(f"\n{lease}: {successor} took over {took:.1f}s after {leader} was killed")
    assert took < 20  # lease duration 15 s + a retry period of 2 s
