"""Test hosts made of Podman containers, each with its own address, Ray node and Podman storage.

Each host is a privileged container (with an init that reaps orphans, as a host's would) whose root file system is a copy-on-write overlay of this
machine's (`--rootfs /:O`: the same Python and packages, nothing written leaks out), on a Podman
network the rig creates, with its own volume for the containers its kubelet runs (nested Podman
needs a real file system under its storage, not an overlay). Ansible reaches the hosts with `podman exec`,
one per task (connection_plugins/rig_podman.py). /run is a tmpfs, as on a real host: a restarted host starts
with an empty one (Podman tells a reboot by it). Each host has a fixed address in the network's subnet, so a
host that is stopped and started again (`stop()`, `start()`: a lost host and its return) comes back
where its peers expect it. The rig removes everything it made, by name.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = REPO / "agents" / "kubelet" / "containers.conf"  # runc + lowered ulimits (PLATFORM.md)
ENV = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
# ansible-playbook's environment: it reaches the hosts through connection_plugins/rig_podman.py.
ANSIBLE_ENV = {**ENV, "ANSIBLE_CONNECTION_PLUGINS": str(Path(__file__).parent / "connection_plugins")}


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    done = subprocess.run(["podman", *args], capture_output=True, text=True, env=ENV, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


class RigUnsupported(RuntimeError):
    """This machine cannot lend its root file system to test hosts."""


@dataclass
class Host:
    name: str  # the container's name, also the inventory host and the node name
    address: str

    def run(self, command: str, timeout: float = 120, check: bool = True) -> str:
        return podman("exec", self.name, "sh", "-c", command, timeout=timeout, check=check)

    def stop(self) -> None:
        """Power the host off: every process in it ends at once (its Ray node, its pods' containers)."""
        podman("stop", "-t", "0", self.name)

    def start(self) -> None:
        """Boot it again, at the same address, with its disk (overlay and container storage) as it was."""
        podman("start", self.name)


class Rig:
    """`count` test hosts on a network of their own; `close()` removes them, the network and volumes."""

    def __init__(self, prefix: str, count: int, work: Path):
        self.prefix, self.work = prefix, work
        self.network = f"{prefix}-net"
        self.hosts: list[Host] = []
        self._names: list[str] = []  # every container asked for, made or not: close() removes each
        podman("network", "create", self.network)
        try:
            self._start(count)
        except RuntimeError as err:
            self.close()
            if "rootfs-overlay" in str(err):  # e.g. inside a Podman container whose own root is an overlay
                raise RigUnsupported(
                    f"test hosts need an overlay of this machine's root, which it refuses: {err}"
                ) from err
            raise

    def _start(self, count: int) -> None:
        subnet = json.loads(podman("network", "inspect", self.network))[0]["subnets"][0]["subnet"]
        addresses = list(ipaddress.ip_network(subnet).hosts())[9:]  # .10 on: clear of the gateway
        for i in range(1, count + 1):
            name = f"{self.prefix}-lab{i}"
            storage = self.work / f"lab{i}-storage"
            storage.mkdir(parents=True)
            self._names.append(name)
            podman("run", "-d", "--init", "--name", name, "--hostname", name, "--network", self.network,
                   "--ip", str(addresses[i - 1]), "--privileged",
                   "--shm-size=512m", "--tmpfs", "/run:notmpcopyup", "-v", f"{storage}:/var/lib/containers", "--rootfs", "/:O",
                   "sleep", "infinity")  # fmt: skip
            inspected = json.loads(podman("inspect", name))[0]
            address = inspected["NetworkSettings"]["Networks"][self.network]["IPAddress"]
            self.hosts.append(Host(name, address))

    def inventory(self, path: Path, variables: Mapping[str, object], hosts: list[Host] | None = None) -> Path:
        """An ansible inventory of the rig (or of `hosts`): the first host the head, the others workers."""

        def host_vars(host: Host) -> dict[str, object]:
            return {"raykube_address": host.address}

        head, *workers = hosts or self.hosts
        inventory = {"all": {
            "children": {
                "raykube_head": {"hosts": {head.name: host_vars(head)}},
                "raykube_workers": {"hosts": {h.name: host_vars(h) for h in workers}},
            },
            "vars": {"ansible_connection": "rig_podman", "ansible_pipelining": True, "ansible_python_interpreter": "/usr/bin/python3",
                     **variables},
        }}  # fmt: skip
        path.write_text(json.dumps(inventory, indent=2))
        return path

    def close(self) -> None:
        for name in self._names:
            podman("rm", "-f", "-t", "0", name, check=False, timeout=180)
        podman("network", "rm", "-f", self.network, check=False)
        shutil.rmtree(self.work, ignore_errors=True)
