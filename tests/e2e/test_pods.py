"""End to end: a Pod manifest becomes a running Podman container on a real cluster, and goes away."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.kubelet.podman_service import CONTAINERS_CONF
from cluster.bootstrap.ray_node import free_port
from tests.e2e.cluster import IMAGE, REPO, Cluster, http_get, pod_manifest, podman, restarted
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def test_the_example_pod_runs_answers_logs_and_is_deleted(cluster: Cluster) -> None:
    example = (REPO / "examples" / "busybox-httpd.yaml").read_text()
    assert (
        cluster.raykube("apply", "-f", str(REPO / "examples" / "busybox-httpd.yaml")).stdout
        == "pod/httpd created\n"
    )
    cluster.wait_ready("httpd")

    pod = cluster.get("pod", "httpd")
    assert pod["status"]["phase"] == "Running" and pod["spec"]["nodeName"] == cluster.node
    ip = pod["status"]["podIP"]
    [status] = pod["status"]["containerStatuses"]
    assert status["ready"] and "running" in status["state"]

    # Podman, not only our status, says the container runs, labelled with the pod's identity.
    [container] = cluster.containers(**{"pod-uid": pod["metadata"]["uid"], "container-name": "httpd"})
    assert container["State"] == "running" and container["Image"] == "localhost/busybox:1.35"
    assert status["containerID"] == f"podman://{container['Id']}"
    assert container["Labels"]["io.raykube.pod-name"] == "httpd"
    assert container["Labels"]["io.raykube.pod-namespace"] == "default"

    assert http_get(f"http://{ip}:8080/") == "Hello from raykube, pod httpd!\n"
    assert "serving /www on :8080" in cluster.raykube("logs", "httpd").stdout

    wide = cluster.raykube("get", "pods", "-o", "wide").stdout.splitlines()
    assert re.match(
        rf"httpd\s+1/1\s+Running\s+0\s+\S+\s+{re.escape(ip)}\s+{cluster.node}\s+<none>\s+<none>$", wide[1]
    )

    started = time.monotonic()
    assert cluster.raykube("delete", "pod", "httpd").stdout == 'pod "httpd" deleted\n'
    assert time.monotonic() - started < 10  # the shell traps SIGTERM: well within the 30 s grace
    assert cluster.containers(**{"pod-uid": pod["metadata"]["uid"]}) == []
    missing = cluster.raykube("get", "pod", "httpd", check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr
    assert example  # the test ran the checked-in example, unchanged


def test_a_pod_that_ignores_sigterm_is_killed_after_its_grace_period(cluster: Cluster) -> None:
    cluster.apply(pod_manifest("stubborn", "trap '' TERM\nwhile true; do sleep 1; done").replace(
        "terminationGracePeriodSeconds: 10", "terminationGracePeriodSeconds: 3"))  # fmt: skip
    eventually(
        lambda: cluster.get("pod", "stubborn")["status"]["phase"] == "Running", what="stubborn running"
    )
    uid = cluster.get("pod", "stubborn")["metadata"]["uid"]
    started = time.monotonic()
    cluster.raykube("delete", "pod", "stubborn")
    took = time.monotonic() - started
    assert 3 <= took < 15, took
    assert cluster.containers(**{"pod-uid": uid}) == []


def test_a_completed_pod_succeeds_and_keeps_its_logs(cluster: Cluster) -> None:
    cluster.apply(pod_manifest("once", "echo computing\necho done: 42", restart="Never"))
    pod = eventually(lambda: (p := cluster.get("pod", "once"))["status"].get("phase") == "Succeeded" and p,
                     what="pod once to succeed")  # fmt: skip
    [status] = pod["status"]["containerStatuses"]
    assert status["state"]["terminated"]["exitCode"] == 0
    assert status["state"]["terminated"]["reason"] == "Completed"
    assert cluster.raykube("logs", "once").stdout == "computing\ndone: 42\n"
    assert "Completed" in cluster.raykube("get", "pods").stdout
    cluster.raykube("delete", "pod", "once")


def test_a_failing_container_is_restarted_with_a_count(cluster: Cluster) -> None:
    cluster.apply(pod_manifest("flaky", "echo attempt\nexit 3", restart="OnFailure"))

    def restarted() -> dict | None:
        statuses = cluster.get("pod", "flaky")["status"].get("containerStatuses", [])
        return statuses[0] if statuses and statuses[0].get("restartCount", 0) >= 1 else None

    status = eventually(restarted, timeout=60, what="a restart of pod flaky")
    assert status["lastState"]["terminated"]["exitCode"] == 3
    uid = cluster.get("pod", "flaky")["metadata"]["uid"]
    counts = {
        c["Labels"]["io.raykube.restart-count"]
        for c in cluster.containers(**{"pod-uid": uid, "container-name": "main"})
    }
    assert counts & {"1", "2"}, counts
    cluster.raykube("delete", "pod", "flaky")


def test_a_pod_that_fits_nowhere_stays_pending_and_says_why(cluster: Cluster) -> None:
    cluster.apply(pod_manifest("greedy", "sleep 1000", extra="").replace(
        "    command:", "    resources: {requests: {cpu: '1000'}}\n    command:"))  # fmt: skip

    def unschedulable() -> dict | None:
        conditions = cluster.get("pod", "greedy")["status"].get("conditions", [])
        return next((c for c in conditions if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    condition = eventually(unschedulable, timeout=30, what="PodScheduled=False on pod greedy")
    assert condition["reason"] == "Unschedulable"
    assert condition["message"] == (
        "0/1 nodes are available: 1 Insufficient cpu."
        " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
    )
    assert cluster.get("pod", "greedy")["status"]["phase"] == "Pending"
    assert (
        "0/1 nodes are available: 1 Insufficient cpu." in cluster.raykube("describe", "pod", "greedy").stdout
    )
    cluster.raykube("delete", "pod", "greedy")


def test_bad_manifests_are_rejected_with_the_field_and_nothing_is_stored(cluster: Cluster) -> None:
    cases = {
        "imagee: x": 'spec.containers[0].imagee: unknown field "imagee"',
        "image: ''": "spec.containers[0].image: Required value",
        "image: x\n    ports: [{containerPort: 99999}]": "spec.containers[0].ports[0].containerPort: Invalid value: 99999",
        "image: x\n    resources: {limits: {memory: lots}}": "spec.containers[0].resources.limits[memory]",
    }
    for field, expected in cases.items():
        manifest = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: bad}}\nspec:\n  containers:\n  - name: c\n    {field}\n"
        done = cluster.raykube("apply", "-f", "-", stdin=manifest, check=False)
        assert done.returncode == 1 and expected in done.stderr, done.stderr
        assert done.stderr.startswith('The Pod "bad" is invalid:')
    missing = cluster.raykube("get", "pod", "bad", check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr


def test_a_restarted_kubelet_adopts_its_pods_without_duplicates(cluster: Cluster) -> None:
    import ray

    cluster.apply(pod_manifest("survivor", "sleep 100000"))
    eventually(
        lambda: cluster.get("pod", "survivor")["status"].get("phase") == "Running", what="survivor running"
    )
    uid = cluster.get("pod", "survivor")["metadata"]["uid"]
    before = sorted(c["Id"] for c in cluster.containers(**{"pod-uid": uid}))

    with cluster.ray_driver() as actor:
        kubelet = actor(f"kubelet-{cluster.node}")
        old_pid = ray.get(kubelet.info.remote(), timeout=30)["pid"]
        ray.kill(kubelet, no_restart=False)  # the process dies; Ray restarts the actor
        restarted(kubelet, old_pid)
    time.sleep(3)  # a few relists and resyncs of the new kubelet
    after = sorted(c["Id"] for c in cluster.containers(**{"pod-uid": uid}))
    assert after == before
    states = [c["State"] for c in cluster.containers(**{"pod-uid": uid})]
    assert states and all(state == "running" for state in states), states
    assert cluster.get("pod", "survivor")["status"]["containerStatuses"][0]["restartCount"] == 0
    cluster.raykube("delete", "pod", "survivor", "--now")
    assert cluster.containers(**{"pod-uid": uid}) == []


def test_podman_sees_exactly_the_pods_the_api_has(cluster: Cluster) -> None:
    listed = cluster.raykube("get", "pods", "-o", "name").stdout.split()
    uids = {c["Labels"]["io.raykube.pod-uid"] for c in cluster.containers(node=cluster.node)}
    assert len(uids) == len(listed)
    assert podman(
        "pod", "ps", "--filter", f"label=io.raykube.node={cluster.node}", "-q"
    ).split().__len__() == len(listed)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A real image registry (Debian's docker-registry) on loopback, holding the busybox image."""
    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'blobs'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n")  # fmt: skip
    process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        eventually(lambda: _answers(f"http://127.0.0.1:{port}/v2/"), timeout=20, what="the registry")
        image = f"127.0.0.1:{port}/busybox:e2e"
        podman("tag", IMAGE, image)
        podman("push", "--tls-verify=false", image)
        podman("rmi", image)  # only the registry has it now: the kubelet must pull
        yield image
    finally:
        process.terminate()
        process.wait(10)
        subprocess.run(["podman", "rmi", "-f", f"127.0.0.1:{port}/busybox:e2e"], capture_output=True,
                       env={**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}, check=False)  # fmt: skip


def _answers(url: str) -> bool:
    try:
        http_get(url)
    except OSError:
        return False
    return True


def test_an_image_is_pulled_from_a_real_registry(cluster: Cluster, registry: str) -> None:
    cluster.apply(pod_manifest("pulled", "echo pulled and running\nsleep 100000", image=registry).replace(
        "    command:", "    imagePullPolicy: Always\n    command:"))  # fmt: skip
    pod = eventually(lambda: (p := cluster.get("pod", "pulled"))["status"].get("phase") == "Running" and p,
                     timeout=90, what="the pulled pod to run")  # fmt: skip
    [status] = pod["status"]["containerStatuses"]
    assert status["image"] == registry and status["imageID"].startswith("sha256:")
    assert podman("image", "exists", registry) == ""
    assert "pulled and running" in cluster.raykube("logs", "pulled").stdout
    cluster.raykube("delete", "pod", "pulled", "--now")
