"""Two hosts: a second Ray node with its own host:<name> resource gets its own kubelet and pods;
Deployments live across both; losing the second host gets its pods replaced on the first.

The second "host" joins with `raykube join` from a RAYKUBE_HOME of its own: a Ray node on this
machine joining the test's cluster on loopback, as PLATFORM.md suggests for simulating hosts;
both kubelets drive the same Podman, each seeing only the containers labelled with its node.
The tests share one cluster and run in file order; the host-loss test comes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agents.kubelet.node_status import primary_ipv4
from agents.proxy.nft import Nftables
from cluster.api import conditions, resources
from cluster.client import config as client_config
from raykube.v1 import pod_pb2
from tests.e2e.cluster import Cluster, http_get, pod_manifest, podman
from tests.polling import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def second(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The second machine: its own RAYKUBE_HOME, from which it joins the cluster."""
    name = f"{cluster.node}-b"
    second = Cluster(tmp_path_factory.mktemp("second-home"), name)
    head = (cluster.home / "ray-address").read_text().strip()
    assert "joined the cluster" in second.raykube("join", head, f"--node-name={name}").stdout
    try:
        placed = cluster.up()  # up again on the first host: the new host's kubelet, standbys moved there
        assert f"kubelet-{name}" in placed
        yield second
    finally:
        deleted = cluster.raykube(
            "delete", "pod", "--now", "pinned", *(f"spread-{i}" for i in range(4)), check=False
        )
        assert "left the cluster" in second.raykube("leave").stdout
        assert deleted.returncode == 0, deleted.stderr
        assert cluster.containers(node=name) == [], "the second host's kubelet removed its pods' containers"


@pytest.fixture(scope="module")
def second_host(second: Cluster) -> str:
    return second.node


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


def web(replicas: int, message: str = "v1", extra: str = "", name: str = "web") -> str:
    """A Deployment of busybox web servers that answer `message` (shell words), ready while /www/ready
    is there (so a test can take one out of rotation)."""
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
{extra}  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: main
        image: localhost/busybox:1.35
        command: ["/bin/sh", "-c"]
        args: ["mkdir -p /www && echo {message} > /www/index.html && touch /www/ready && httpd -f -p 8080 -h /www & trap 'exit 0' TERM; wait"]
        ports: [{{name: http, containerPort: 8080}}]
        resources: {{requests: {{cpu: 100m, memory: 16Mi}}}}
        readinessProbe: {{httpGet: {{path: /ready, port: 8080}}, periodSeconds: 1, failureThreshold: 1}}
"""


def web_pods(cluster: Cluster, app: str = "web") -> list[dict[str, Any]]:
    """The Deployment's pods that are not being deleted."""
    pods: list[dict[str, Any]] = json.loads(
        cluster.raykube("get", "pods", "-l", f"app={app}", "-o", "json").stdout
    )["items"]
    return [p for p in pods if "deletionTimestamp" not in p["metadata"]]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def rolled_out(cluster: Cluster, replicas: int) -> list[dict[str, Any]]:
    cluster.raykube("rollout", "status", "deployment/web", "--timeout=120s", timeout=150)

    def all_ready() -> list[dict[str, Any]] | None:
        pods = web_pods(cluster)
        return pods if len(pods) == replicas and all(map(ready, pods)) else None

    return eventually(all_ready, timeout=60, what=f"{replicas} ready pods")


def _ready_live(pod: Any) -> bool:
    return not pod.metadata.HasField("deletion_timestamp") and conditions.is_true(
        pod.status.conditions, "Ready"
    )


class ReadyWatch:
    """Counts the ready, not terminating pods of app=web over time, through a watch, on its own thread."""

    def __init__(self, cluster: Cluster):
        self._config = client_config.load(cluster.home)
        self.counts: list[int] = []
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(self._watch())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # how stop() ends it
            self._loop.run_until_complete(self._task)

    async def _watch(self) -> None:
        async with self._config.client() as client:
            listed, version = await client.list(resources.PODS, "default", label_selector="app=web")
            ready_now = {p.metadata.name: _ready_live(p) for p in listed if isinstance(p, pod_pb2.Pod)}
            self.counts.append(sum(ready_now.values()))
            async for kind, pod in client.watch(resources.PODS, "default", resource_version=version,
                                                label_selector="app=web"):  # fmt: skip
                ready_now[pod.metadata.name] = kind != "DELETED" and _ready_live(pod)
                self.counts.append(sum(ready_now.values()))

    def stop(self) -> list[int]:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)
        self._loop.close()
        return self.counts


def test_a_deployment_heals_scales_rolls_out_without_dropping_below_its_minimum_and_rolls_back(
    cluster: Cluster, second_host: str
) -> None:
    cluster.apply(web(3))
    pods = rolled_out(cluster, 3)

    victim = pods[0]
    [container] = cluster.containers(**{"pod-uid": victim["metadata"]["uid"], "container-name": "main"})
    podman("kill", container["Id"])  # the kubelet restarts it in place
    eventually(lambda: cluster.get("pod", victim["metadata"]["name"])["status"]["containerStatuses"][0]["restartCount"] >= 1,
               timeout=60, what="the killed container restarted")  # fmt: skip

    cluster.raykube("delete", "pod", pods[1]["metadata"]["name"])  # the ReplicaSet replaces it
    replaced = rolled_out(cluster, 3)
    assert pods[1]["metadata"]["name"] not in {p["metadata"]["name"] for p in replaced}

    cluster.raykube("scale", "deployment/web", "--replicas=5")
    assert {p["spec"]["nodeName"] for p in rolled_out(cluster, 5)} == {cluster.node, second_host}
    cluster.raykube("scale", "deployment/web", "--replicas=3")
    rolled_out(cluster, 3)

    watch = ReadyWatch(cluster)
    time.sleep(1)
    cluster.apply(web(3, message="v2"))  # maxUnavailable 25% of 3 is 0: never fewer than 3 ready
    rolled_out(cluster, 3)
    counts = watch.stop()
    assert counts and min(counts) >= 3, f"ready pods during the rollout: {counts}"
    history = cluster.raykube("rollout", "history", "deployment/web").stdout
    assert re.search(r"^1\s", history, re.M) and re.search(r"^2\s", history, re.M)

    assert "rolled back" in cluster.raykube("rollout", "undo", "deployment/web").stdout
    back = rolled_out(cluster, 3)
    assert all("echo v1 " in p["spec"]["containers"][0]["args"][0] for p in back)

    cluster.raykube("delete", "deployment", "web")
    eventually(lambda: not json.loads(cluster.raykube("get", "rs", "-o", "json").stdout)["items"]
               and not json.loads(cluster.raykube("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"],
               timeout=60, what="no ReplicaSet and no pod left")  # fmt: skip


def hello_pods(cluster: Cluster) -> set[str]:
    return {p["metadata"]["name"] for p in web_pods(cluster, "hello")}


def _names_if(names: set[str], count: int) -> set[str] | None:
    return names if len(names) == count else None


def in_pod(cluster: Cluster, pod: str, script: str) -> str:
    [container] = cluster.containers(**{"pod-name": pod, "container-name": "main"})
    return podman("exec", container["Id"], "sh", "-c", script)


def from_pod(cluster: Cluster, pod: str, target: str, count: int) -> Counter[str]:
    """Which backends answer `count` HTTP requests to `target` (a name or address, port 80) from `pod`."""
    script = f"for i in $(seq {count}); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80 | tail -n 1; done"
    return Counter(line for line in in_pod(cluster, pod, script).splitlines() if line)


def from_host(address: str, count: int, port: int = 80) -> Counter[str]:
    """Which backends answer `count` requests from this host; a failed request counts as its error."""
    return Counter(_answer(f"http://{address}:{port}/") for _ in range(count))


def _answer(url: str) -> str:
    try:
        return http_get(url, timeout=3).strip()
    except OSError as failed:  # e.g. reset by a pod that stops while the rules still name it
        return f"<{type(failed).__name__}>"


def until_only(cluster: Cluster, address: str, expected: Callable[[], set[str]], what: str) -> float:
    """Seconds until 20 requests in a row reach only the backends `expected()` names."""
    started = time.monotonic()
    eventually(lambda: set(from_host(address, 20)) <= expected(), timeout=30, interval=0.2, what=what)
    return time.monotonic() - started


def test_a_service_spreads_follows_readiness_and_scale_answers_on_node_ports_and_by_name(
    cluster: Cluster, second_host: str
) -> None:
    cluster.apply(web(3, "$(hostname)", name="hello"))
    cluster.apply(pod_manifest("client", "sleep 100000",
                               extra=f"  nodeSelector: {{kubernetes.io/hostname: {second_host}}}\n"))  # fmt: skip
    assert cluster.raykube("expose", "deployment/hello", "--port=80", "--target-port=http").stdout == (
        "service/hello exposed\n"
    )
    cluster.raykube("expose", "deployment/hello", "--port=80", "--target-port=8080", "--type=NodePort",
                    "--name=hello-np")  # fmt: skip
    cluster.raykube("rollout", "status", "deployment/hello", "--timeout=120s", timeout=150)
    cluster.wait_ready("client")
    service_ip = cluster.get("svc", "hello")["spec"]["clusterIP"]
    node_port = cluster.get("svc", "hello-np")["spec"]["ports"][0]["nodePort"]
    backends = eventually(lambda: _names_if(hello_pods(cluster), 3), what="3 hello pods")
    eventually(lambda: set(from_host(service_ip, 30)) == backends, timeout=30, what="the proxy routes all 3")

    assert set(from_host(service_ip, 60)) == backends  # from the host itself
    assert set(from_pod(cluster, "client", service_ip, 60)) == backends  # from a pod on the other host
    assert set(from_host(primary_ipv4(), 60, node_port)) == backends  # a NodePort on the node's address
    for name in ("hello", "hello.default", "hello.default.svc.cluster.local"):  # names, through cluster DNS
        assert set(from_pod(cluster, "client", name, 3)) <= backends, name

    unready = sorted(backends)[0]
    in_pod(cluster, unready, "rm /www/ready")
    eventually(lambda: not ready(cluster.get("pod", unready)), timeout=30, what=f"{unready} not Ready")
    until_only(cluster, service_ip, lambda: backends - {unready}, "traffic to leave the unready pod")
    assert unready not in from_host(service_ip, 60)
    in_pod(cluster, unready, "touch /www/ready")
    eventually(lambda: set(from_host(service_ip, 30)) == backends, timeout=30, what="it back in the rotation")

    cluster.raykube("scale", "deployment/hello", "--replicas=1")
    seconds = until_only(cluster, service_ip, lambda: hello_pods(cluster), "only the one left")
    print(f"\nscaled 3 -> 1: only the remaining pod answers after {seconds:.1f}s")
    assert seconds < 5 and len(hello_pods(cluster)) == 1

    assert service_ip in Nftables().text()
    cluster.raykube("delete", "svc", "hello", "hello-np")
    eventually(lambda: service_ip not in Nftables().text(), timeout=10, what="the Service's rules gone")
    # (No request after that: with no rule, a packet to the old ClusterIP would leave the machine.)
    cluster.raykube("delete", "deployment", "hello")
    cluster.raykube("delete", "pod", "--now", "client")


def node_ready(cluster: Cluster, node: str) -> str:
    ready_condition = [c for c in cluster.get("node", node)["status"]["conditions"] if c["type"] == "Ready"]
    return str(ready_condition[0]["status"]) if ready_condition else ""


def test_losing_a_host_replaces_its_pods_and_it_comes_back(cluster: Cluster, second: Cluster) -> None:
    b = second.node
    cluster.apply(web(4))
    pods = rolled_out(cluster, 4)
    lost = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] == b}
    assert lost, "some pods run on the second host"

    started = time.monotonic()
    assert "left the cluster" in second.raykube("leave").stdout  # its Ray node, and the kubelet, stop
    eventually(lambda: node_ready(cluster, b) == "Unknown", timeout=60, interval=0.5, what="NodeNotReady")
    not_ready = time.monotonic() - started
    events = cluster.raykube("get", "events", "--field-selector", "reason=NodeNotReady").stdout
    assert f"node/{b}" in events

    def replaced() -> bool:
        now = web_pods(cluster)
        return len(now) == 4 and all(ready(p) and p["spec"]["nodeName"] == cluster.node for p in now)

    eventually(replaced, timeout=90, interval=0.5, what="the lost pods replaced on the first host")
    running_again = time.monotonic() - started
    print(
        f"\nhost loss: NodeNotReady after {not_ready:.1f}s, its pods Running elsewhere after {running_again:.1f}s"
    )
    assert running_again < 60
    taints = {t["key"] for t in cluster.get("node", b)["spec"].get("taints", [])}
    assert taints == {"node.kubernetes.io/unreachable"}

    head = (cluster.home / "ray-address").read_text().strip()
    assert "joined the cluster" in second.raykube("join", head, f"--node-name={b}").stdout
    cluster.up()
    eventually(lambda: node_ready(cluster, b) == "True" and not cluster.get("node", b)["spec"].get("taints"),
               timeout=90, what="the host Ready again, untainted")  # fmt: skip
    # Its kubelet finishes the evicted pods: their containers go, and no pod runs twice.
    eventually(lambda: not any(cluster.containers(**{"pod-name": name}) for name in lost), timeout=60,
               what="the evicted pods' containers removed")  # fmt: skip
    uids = [p["metadata"]["uid"] for p in web_pods(cluster)]
    assert all(len(cluster.containers(**{"pod-uid": uid, "container-name": "main"})) == 1 for uid in uids)
    cluster.raykube("delete", "deployment", "web", "--cascade=foreground")
