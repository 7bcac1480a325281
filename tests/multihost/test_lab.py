"""raykube on three test hosts, deployed by the ansible play from bare hosts (tests/multihost/rig.py).

The play converges the head alone, then with two more hosts (the store's replicas move to them); a second run changes
nothing, nor would a --check --diff run; every host is a Ready node; a Deployment spreads over the hosts; the store's
replicas are on three hosts. A restarted Ray head
resumes from its Redis with the other hosts' actors untouched; a host powered off with the
store's leader and an API server on it leaves a cluster that keeps serving, and comes back Ready
with nothing running twice. site-down.yml removes what site.yml made. Timings are printed (-s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.multihost.rig import ANSIBLE_ENV, REPO, Host, Rig, RigUnsupported

pytestmark = [pytest.mark.multihost, pytest.mark.timeout(1800)]
ANSIBLE = REPO / "ansible"
HOME = "/var/lib/raykube-lab"  # RAYKUBE_HOME on the test hosts (theirs, not this machine's ~/.raykube)
RIG_VARS = {
    "raykube_dir": str(REPO),  # the overlay root already holds this checkout and its virtualenv
    "raykube_home": HOME,
    "raykube_systemd": False,  # the test hosts have no systemd: Ray runs under the supervisor loop
    "raykube_common_pip_extra_args": "--no-deps --no-build-isolation",  # offline: nothing leaves the rig
}


def play(inventory: Path, playbook: str, *options: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {**ANSIBLE_ENV, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}  # fmt: skip
    started = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), *options, playbook],
                          capture_output=True, text=True, cwd=ANSIBLE, env=env, timeout=1200)  # fmt: skip
    return done, time.monotonic() - started


def recap(output: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP: host -> {ok, changed, unreachable, failed, ...}."""
    found = {}
    for line in output.split("PLAY RECAP", 1)[-1].splitlines():
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line.strip())
        if match:
            found[match[1]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match[2])}
    return found


def changed_tasks(output: str) -> list[str]:
    """'task: host' for every task that reported a change."""
    found, task = [], ""
    for line in output.splitlines():
        if line.startswith("TASK ["):
            task = line[6:].split("]", 1)[0]
        elif line.startswith("changed: ["):
            found.append(f"{task}: {line[10:].split(']', 1)[0]}")
    return found


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    work = tmp_path_factory.mktemp("rig")
    try:
        made = Rig(f"rk{os.getpid()}", 3, work / "hosts")
    except RigUnsupported as err:
        pytest.skip(str(err))
    try:
        yield made
    finally:
        made.close()


def raykube(rig: Rig, *args: str, check: bool = True) -> str:
    return rig.hosts[0].run(
        f"RAYKUBE_HOME={HOME} {REPO}/.venv/bin/raykube {' '.join(args)}", timeout=180, check=check
    )


def etcdctl(rig: Rig, *args: str, endpoints: list[str]) -> str:
    """etcdctl on the head host, over TLS with the admin's certificate."""
    return rig.hosts[0].run(
        f"ETCDCTL_API=3 etcdctl --cacert={HOME}/pki/ca.crt --cert={HOME}/pki/admin.crt --key={HOME}/pki/admin.key "
        f"--dial-timeout=2s --command-timeout=3s --endpoints={','.join(endpoints)} {' '.join(args)}", check=False
    )  # fmt: skip


def store_endpoints(rig: Rig) -> dict[str, str]:
    """host name -> its replica's client URL."""
    layout = json.loads(rig.hosts[0].run(f"cat {HOME}/data/store-layout.json"))
    address = {host.name: host.address for host in rig.hosts}
    return {m["host"]: f"https://{address[m['host']]}:{m['client_port']}" for m in layout}


def store_leader(rig: Rig, endpoints: dict[str, str]) -> tuple[str, int] | None:
    """(host, member id) of the replica the reachable ones agree leads, if they agree."""
    found = etcdctl(rig, "endpoint", "status", "-w", "json", endpoints=list(endpoints.values()))
    statuses = json.loads(found) if found.strip().startswith("[") else []
    leaders = {s["Status"]["leader"] for s in statuses}
    if len(leaders) != 1:
        return None
    (leader,) = leaders
    host = next((h for h, url in endpoints.items() for s in statuses
                 if s["Endpoint"] == url and s["Status"]["header"]["member_id"] == leader), None)  # fmt: skip
    return (host, leader) if host else None


def node_ready(rig: Rig) -> dict[str, str]:
    nodes = json.loads(raykube(rig, "get", "nodes", "-o", "json"))["items"]
    return {n["metadata"]["name"]: next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
            for n in nodes}  # fmt: skip


def until(what: str, check: Callable[[], object], started: float, timeout: float = 300) -> float:
    """Poll `check` until it is truthy (errors count as not yet); print and return the time since `started`."""
    while not _holds(check):
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(1)
    took = time.monotonic() - started
    print(f"  {what}: {took:.1f} s")
    return took


def _holds(check: Callable[[], object]) -> bool:
    try:
        return bool(check())
    except (RuntimeError, ValueError, KeyError, StopIteration):
        return False


def actor_pids(host: Host) -> set[str]:
    """The PIDs of raykube's actor processes on `host`."""
    return set(host.run("pgrep -f '^ray::ComponentHost' || true").split())


def running_containers(host: Host) -> list[tuple[str, str]]:
    """(pod uid, container name) of each running pod container on `host` (infra containers aside)."""
    listed = json.loads(host.run("podman ps --format json --filter label=io.raykube.pod-uid") or "[]")
    return [(c["Labels"]["io.raykube.pod-uid"], c["Labels"].get("io.raykube.container-name", ""))
            for c in listed if c["Labels"].get("io.raykube.container-name")]  # fmt: skip


def test_the_play_converges_bare_hosts_and_a_second_run_changes_nothing(rig: Rig, tmp_path: Path) -> None:
    head = rig.inventory(tmp_path / "head.json", RIG_VARS, rig.hosts[:1])
    first, took = play(head, "site.yml")  # the head alone: every store replica on it
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    print(f"\nfirst converge, the head alone: {took:.0f} s")
    inventory = rig.inventory(tmp_path / "hosts.json", RIG_VARS)
    joined, took = play(inventory, "site.yml")  # two hosts join: two replicas move to them
    assert joined.returncode == 0, joined.stdout[-6000:] + joined.stderr[-3000:]
    print(f"converge with two more hosts (two store replicas move): {took:.0f} s")
    second, took = play(inventory, "site.yml")
    assert second.returncode == 0, second.stdout[-6000:]
    print(f"second run: {took:.0f} s")
    assert {host: counts["changed"] for host, counts in recap(second.stdout).items()} == {
        host.name: 0 for host in rig.hosts}, changed_tasks(second.stdout)  # fmt: skip
    checked, _ = play(inventory, "site.yml", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout[-6000:]
    assert changed_tasks(checked.stdout) == []  # a dry run after converging has nothing to do

    nodes = raykube(rig, "get", "nodes", "-o", "json")
    ready = {item["metadata"]["name"]: next(c["status"] for c in item["status"]["conditions"] if c["type"] == "Ready")
             for item in json.loads(nodes)["items"]}  # fmt: skip
    assert ready == {host.name: "True" for host in rig.hosts}
    layout = json.loads(rig.hosts[0].run(f"cat {HOME}/data/store-layout.json"))
    assert sorted(member["host"] for member in layout) == sorted(host.name for host in rig.hosts)
    members = etcdctl(rig, "member", "list", "-w", "json", endpoints=["https://127.0.0.1:2379"])
    peers = {
        url.split("//")[-1].rsplit(":", 1)[0] for m in json.loads(members)["members"] for url in m["peerURLs"]
    }
    assert peers == {host.address for host in rig.hosts}  # one replica on each host's address


def test_a_deployment_spreads_over_the_hosts_and_its_service_answers_on_each(rig: Rig) -> None:
    deployment = (REPO / "examples" / "deployment.yaml").read_text()
    rig.hosts[0].run(f"cat > /tmp/web.yaml <<'EOF'\n{deployment}\nEOF")
    raykube(rig, "apply", "-f", "/tmp/web.yaml")
    raykube(rig, "rollout", "status", "deployment/web", "--timeout=300s")
    pods = json.loads(raykube(rig, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
    assert {pod["spec"]["nodeName"] for pod in pods} == {host.name for host in rig.hosts}
    raykube(rig, "expose", "deployment/web", "--port=80", "--target-port=8080")
    cluster_ip = raykube(rig, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}").strip()
    for host in rig.hosts:  # each host's proxy routes the ClusterIP to the pods on all hosts
        page = host.run(
            f"curl -sS --max-time 5 --retry 20 --retry-all-errors --retry-delay 1 http://{cluster_ip}/"
        )
        assert page.startswith("Hello from web-"), (host.name, page)


def test_a_restarted_ray_head_resumes_from_redis_with_the_other_hosts_actors_running(rig: Rig) -> None:
    head, others = rig.hosts[0], rig.hosts[1:]
    before = {host.name: actor_pids(host) for host in others}
    on_head = len(actor_pids(head))
    assert all(before.values()) and on_head
    print("\nRay head restart (its supervisor starts it again 5 s after it ends):")
    started = time.monotonic()
    head.run(f"RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH={HOME}/ray-token {REPO}/.venv/bin/ray stop --force")
    until("the head's actors back", lambda: len(actor_pids(head)) == on_head, started)
    until("every node Ready", lambda: set(node_ready(rig).values()) == {"True"}, started)
    assert {host.name: actor_pids(host) for host in others} == before  # not one actor elsewhere restarted


def test_losing_a_host_keeps_the_cluster_serving_and_it_comes_back(rig: Rig) -> None:
    victim = rig.hosts[1]  # an API server and a store replica, not the Ray head (see the test above)
    print(f"\nhost loss ({victim.name} powered off with the store's leader and an API server on it):")
    endpoints = store_endpoints(rig)
    until("(before) the store has a leader", lambda: store_leader(rig, endpoints), time.monotonic())
    leader = store_leader(rig, endpoints)
    assert leader is not None
    if leader[0] != victim.name:  # put the leader on the victim
        ids = json.loads(etcdctl(rig, "endpoint", "status", "-w", "json", endpoints=[endpoints[victim.name]]))
        target = format(ids[0]["Status"]["header"]["member_id"], "x")
        etcdctl(rig, "move-leader", target, endpoints=[endpoints[leader[0]]])
        until("the store's leader on the victim", lambda: (store_leader(rig, endpoints) or ("",))[0] == victim.name,
              time.monotonic())  # fmt: skip
    config = yaml.safe_load(rig.hosts[0].run(f"cat {HOME}/kubeconfig"))
    servers = config["clusters"][0]["cluster"]["extensions"][0]["extension"]["servers"]
    assert any(s.startswith(f"{victim.address}:") for s in servers) and len(servers) == 2, servers
    config["clusters"][0]["cluster"]["extensions"][0]["extension"]["servers"] = sorted(
        servers, key=lambda s: not s.startswith(f"{victim.address}:")
    )  # the victim's API server first
    rig.hosts[0].run(f"cat > /tmp/victim-first.yaml <<'EOF'\n{yaml.safe_dump(config)}\nEOF")
    survivors = {name: url for name, url in endpoints.items() if name != victim.name}

    started = time.monotonic()
    victim.stop()
    until("a new store leader", lambda: (store_leader(rig, survivors) or ("",))[0] in survivors, started)
    until("the API answering (the CLI dialling the lost API server first)",
          lambda: "web-" in raykube(rig, "get", "pods", "--kubeconfig", "/tmp/victim-first.yaml"), started)  # fmt: skip
    until(f"{victim.name} NotReady", lambda: node_ready(rig)[victim.name] != "True", started)

    def web_running_elsewhere() -> bool:
        pods = json.loads(raykube(rig, "get", "pods", "-l", "app=web", "-o", "json"))["items"]
        ready = [p for p in pods if p["spec"].get("nodeName") not in ("", victim.name)
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]  # fmt: skip
        return len(ready) == 3

    until("the Deployment's 3 pods Ready on the other hosts", web_running_elsewhere, started)

    print(f"{victim.name} back (booted: its Ray node starts, as its unit would at boot under systemd):")
    started = time.monotonic()
    victim.start()
    victim.run(f"setsid nohup {HOME}/ray-supervise.sh > /dev/null 2>&1 &")
    until(f"{victim.name} Ready", lambda: node_ready(rig)[victim.name] == "True", started)
    until("its store replica healthy",
          lambda: '"health":true' in etcdctl(rig, "endpoint", "health", "-w", "json", endpoints=[endpoints[victim.name]])
          .replace(" ", ""), started)  # fmt: skip
    pods = json.loads(raykube(rig, "get", "pods", "-A", "-o", "json"))["items"]
    bound = {p["metadata"]["uid"]: p["spec"].get("nodeName") for p in pods}
    for host in rig.hosts:  # every running container is of a pod bound to its host, and runs once
        containers = running_containers(host)
        assert len(containers) == len(set(containers)), (host.name, containers)
        assert {bound.get(uid) for uid, _ in containers} <= {host.name}, (host.name, containers, bound)


def test_site_down_removes_what_site_made(rig: Rig, tmp_path: Path) -> None:
    inventory = rig.inventory(tmp_path / "hosts.json", RIG_VARS)
    down, took = play(inventory, "site-down.yml")
    assert down.returncode == 0, down.stdout[-6000:]
    print(f"site-down: {took:.0f} s")
    for host in rig.hosts:
        left = host.run(f"ls -A {HOME} 2>/dev/null; pgrep -af '[r]ay start|[r]aylet|[g]cs_server|[a-z]-supervise|[r]edis-server|[p]odman system service' || true; "
                        "podman ps -aq; nft list tables | grep raykube || true", check=False)  # fmt: skip
        assert left.strip() == "", (host.name, left)
