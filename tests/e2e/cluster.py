"""A real local cluster for end-to-end tests, driven through the `raykube` CLI as a user would.

`raykube up` runs in a temporary RAYKUBE_HOME on free loopback ports with a node name unique to
the test run, so tests never touch a cluster someone has running. Assertions about containers go
to Podman directly (with the project's containers.conf), not only to the API's status.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agents.kubelet.podman_service import CONTAINERS_CONF
from agents.proxy.ruleset import TABLE
from cluster.bootstrap.ray_node import session_processes
from tests.polling import eventually

RAYKUBE = str(Path(sys.executable).with_name("raykube"))
REPO = Path(__file__).resolve().parents[2]
IMAGE = "localhost/busybox:1.35"


def podman(*args: str) -> str:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def http_get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body.decode()


class Cluster:
    def __init__(self, home: Path, node: str):
        self.home = home
        self.node = node
        self.env = {**os.environ, "RAYKUBE_HOME": str(home)}
        self.head_pid = 0

    def raykube(
        self, *args: str, check: bool = True, timeout: float = 240, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([RAYKUBE, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=stdin, check=False)  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(
                f"raykube {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def up(self, grpc_port: int = 0) -> str:
        """`raykube up` on free ports; a fixed `grpc_port` keeps the CLI's kubeconfig valid when the
        API server restarts (with port 0 every start picks another)."""
        out = self.raykube("up", "--ray-port=0", "--apiserver-port=0", f"--grpc-port={grpc_port}", "--store-port=0",
                           "--kubelet-port=0", "--dns-port=0", f"--node-name={self.node}").stdout  # fmt: skip
        self.head_pid = int((self.home / "ray.pid").read_text())
        return out

    @contextlib.contextmanager
    def ray_driver(self) -> Iterator[Callable[[str], Any]]:
        """This cluster's Ray, joined as a driver: yields a lookup of its component actors by name."""
        import ray

        from cluster.bootstrap.actors import connect_ray, get_actor

        assert connect_ray(self.home)
        try:
            yield get_actor
        finally:
            ray.shutdown()

    def etcdctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Real etcdctl against this cluster's store: TLS with the admin's client certificate."""
        pki = self.home / "pki"
        env = {**os.environ, "ETCDCTL_API": "3", "ETCDCTL_CACERT": str(pki / "ca.crt"),
               "ETCDCTL_CERT": str(pki / "admin.crt"), "ETCDCTL_KEY": str(pki / "admin.key")}  # fmt: skip
        return subprocess.run(
            ["etcdctl", *args], capture_output=True, text=True, env=env, check=check, timeout=30
        )

    def down(self) -> str:
        return self.raykube("down", "--purge").stdout

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        obj: dict[str, Any] = json.loads(
            self.raykube("get", kind, name, "-n", namespace, "-o", "json").stdout
        )
        return obj

    def apply(self, manifest: str) -> str:
        return self.raykube("apply", "-f", "-", stdin=manifest).stdout

    def wait_ready(self, pod: str, timeout: str = "120s") -> None:
        self.raykube("wait", f"pod/{pod}", "--for=condition=Ready", f"--timeout={timeout}")

    def containers(self, **labels: str) -> list[dict[str, Any]]:
        """Podman's view: containers (pause containers included) with all these io.raykube.* labels."""
        filters = [
            arg for key, value in labels.items() for arg in ("--filter", f"label=io.raykube.{key}={value}")
        ]
        found: list[dict[str, Any]] = json.loads(podman("ps", "-a", "--format", "json", *filters) or "[]")
        return found

    def leftovers(self) -> dict[str, list[Any]]:
        """Whatever of this cluster still exists: containers, pods, processes of its Ray session or
        Podman, its Service rules."""
        own_podman = [p for p in _processes() if "podman" in p[1] and str(self.home) in p[1]]
        return {
            "containers": self.containers(node=self.node),
            "pods": json.loads(podman("pod", "ps", "--format", "json", "--filter", f"label=io.raykube.node={self.node}")
                               or "[]"),
            "ray processes": session_processes(self.head_pid) if self.head_pid else [],
            "podman services": own_podman,
            "nftables tables": [t for t in _nft("list", "tables").splitlines() if t.endswith(f" {TABLE['name']}")],
        }  # fmt: skip


def restarted(actor: Any, old_pid: int, timeout: float = 90) -> int:
    """Wait until Ray has restarted `actor` (a component host) in a new process and it serves again;
    returns the new PID."""
    import ray

    def new_pid() -> int | None:
        try:
            pid: int = ray.get(actor.info.remote(), timeout=60)["pid"]
        except ray.exceptions.RayError:  # still restarting
            return None
        return pid if pid != old_pid else None

    return eventually(new_pid, timeout=timeout, what="the component to come back in a new process")


def _nft(*args: str) -> str:
    return subprocess.run(["nft", *args], capture_output=True, text=True, check=True).stdout


def _processes() -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found.append(
                    (int(entry.name), (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
                )
            except (FileNotFoundError, ProcessLookupError):
                continue
    return found


def pod_manifest(
    name: str, script: str, *, restart: str = "Always", image: str = IMAGE, extra: str = ""
) -> str:
    """A one-container busybox pod running `script` with /bin/sh (indented into a YAML block)."""
    body = "\n".join(f"      {line}" for line in script.strip().splitlines())
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  labels: {{test: e2e}}
spec:
  restartPolicy: {restart}
  terminationGracePeriodSeconds: 10
{extra}  containers:
  - name: main
    image: {image}
    command: ["/bin/sh", "-c"]
    args:
    - |
{body}
"""
