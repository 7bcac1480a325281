"""raykube on three test hosts, deployed by the ansible play from bare hosts (tests/multihost/rig.py).

The play converges the rig; a second run changes nothing, nor would a --check --diff run; every host is a Ready node; a
Deployment spreads over the hosts; the store's replicas are on three hosts; site-down.yml
removes what site.yml made.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multihost.rig import ENV, REPO, Rig, RigUnsupported

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
    env = {**ENV, "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
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


def raykube(rig: Rig, *args: str) -> str:
    return rig.hosts[0].run(f"RAYKUBE_HOME={HOME} {REPO}/.venv/bin/raykube {' '.join(args)}", timeout=180)


def test_the_play_converges_bare_hosts_and_a_second_run_changes_nothing(rig: Rig, tmp_path: Path) -> None:
    inventory = rig.inventory(tmp_path / "hosts.json", **RIG_VARS)
    first, took = play(inventory, "site.yml")
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
    print(f"first converge: {took:.0f} s")
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
    members = rig.hosts[0].run(
        f"ETCDCTL_API=3 etcdctl --cacert={HOME}/pki/ca.crt --cert={HOME}/pki/admin.crt --key={HOME}/pki/admin.key "
        f"--endpoints=https://127.0.0.1:2379 member list -w json"
    )  # fmt: skip
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


def test_site_down_removes_what_site_made(rig: Rig, tmp_path: Path) -> None:
    inventory = rig.inventory(tmp_path / "hosts.json", **RIG_VARS)
    down, took = play(inventory, "site-down.yml")
    assert down.returncode == 0, down.stdout[-6000:]
    print(f"site-down: {took:.0f} s")
    for host in rig.hosts:
        left = host.run(f"ls -A {HOME} 2>/dev/null; pgrep -af '[r]ay start|[r]aylet|[g]cs_server|[r]ay-supervise|[p]odman system service' || true; "
                        "podman ps -aq; nft list tables | grep raykube || true", check=False)  # fmt: skip
        assert left.strip() == "", (host.name, left)
