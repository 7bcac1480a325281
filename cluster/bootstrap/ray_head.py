"""The local Ray head that `raykube up` starts when no Ray cluster is given.

`ray start --head --block` runs in a session of its own, so everything it starts (GCS, raylet,
workers, our actors) belongs to that session. `stop()` sends it SIGTERM (Ray then stops its
processes; draining is disabled so this takes about two seconds), and kills whatever is left in
that session by its session id: the cluster is stopped by its own handle, never by name.

Ray's environment is pinned identically for every node and driver (PLATFORM.md: token auth must
be set explicitly, or `ray start --head` may turn it on silently and workers fail).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

RAY_ENV: Mapping[str, str] = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}
# Ray's single-machine switch (named for Windows/macOS, where it is the default): with it every
# Ray address is 127.0.0.1, so a local cluster never listens on or dials a routable interface.
LOOPBACK_ENV: Mapping[str, str] = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
STARTED_MARKER = "Ray runtime started"
STATE_FILE = "cluster.json"  # in RAYKUBE_HOME: where `raykube up` records the Ray cluster it uses


def ray_env(*, loopback: bool) -> dict[str, str]:
    return {**RAY_ENV, **(LOOPBACK_ENV if loopback else {})}


def recorded_loopback(home: Path) -> bool:
    """Whether the cluster recorded in `home` is a loopback-only one (False when there is none)."""
    try:
        return bool(json.loads((home / STATE_FILE).read_text()).get("loopback", False))
    except FileNotFoundError:
        return False


def apply_ray_env(*, loopback: bool) -> None:
    """Set Ray's pinned environment in this process. Call it before `ray` is first imported: Ray
    reads some of these (the loopback switch) once, at import time."""
    os.environ.update(ray_env(loopback=loopback))
    if not loopback:
        for key in LOOPBACK_ENV:
            os.environ.pop(key, None)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def primary_ip() -> str:
    """This host's primary IPv4 address (a routing-table lookup: a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))
        address: str = sock.getsockname()[0]
        return address


def session_processes(sid: int) -> list[int]:
    """PIDs whose session id is `sid` (everything a `start_new_session` child spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state, ppid, pgrp, session
            pids.append(int(entry.name))
    return pids


class LocalRayHead:
    """A Ray head on this machine, owned through files in `home` (pid, address, log)."""

    def __init__(self, home: Path):
        self.home = home
        self.pid_file = home / "ray.pid"
        self.address_file = home / "ray-address"
        self.log_file = home / "ray.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def address(self) -> str | None:
        if self.pid() is None:
            return None
        try:
            return self.address_file.read_text().strip()
        except FileNotFoundError:
            return None

    def start(
        self,
        *,
        port: int,
        host_name: str,
        loopback: bool,
        object_store_bytes: int = 200 * 1024 * 1024,
        timeout: float = 90.0,
    ) -> str:
        """Start the head and wait until it is up; returns its address (GCS host:port).

        `loopback`: the whole Ray cluster lives on 127.0.0.1 (a single-machine cluster); otherwise
        it uses this host's primary address, so other hosts can join it.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        node_ip = "127.0.0.1" if loopback else primary_ip()
        ray = Path(sys.executable).with_name("ray")
        port = port or free_port(node_ip)
        command = [
            str(ray), "start", "--head", "--block",
            f"--port={port}",
            f"--node-ip-address={node_ip}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--object-store-memory={object_store_bytes}",
            f"--resources={json.dumps({f'host:{host_name}': 1})}",
            # Ray's auxiliary ports default to fixed numbers; free ones let two clusters share a machine.
            f"--ray-client-server-port={free_port(node_ip)}",
            f"--dashboard-agent-listen-port={free_port(node_ip)}",
            f"--dashboard-agent-grpc-port={free_port(node_ip)}",
            f"--metrics-export-port={free_port(node_ip)}",
            f"--runtime-env-agent-port={free_port(node_ip)}",
        ]  # fmt: skip
        log = self.log_file.open("w")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **ray_env(loopback=loopback)},
        )
        log.close()
        self.pid_file.write_text(str(process.pid))
        address = f"{node_ip}:{port}"
        deadline = time.monotonic() + timeout
        while STARTED_MARKER not in self.log_file.read_text(errors="replace"):
            if process.poll() is not None:
                raise RuntimeError(f"ray start exited with {process.returncode}:\n{self._log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"ray did not start within {timeout:.0f}s:\n{self._log_tail()}")
            time.sleep(0.2)
        self.address_file.write_text(address)
        return address

    def _log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the head, wait, then SIGKILL anything left in its session."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while session_processes(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            for leftover in session_processes(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(leftover, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # not our child if an earlier `up` started it
                os.waitpid(pid, 0)
        self.pid_file.unlink(missing_ok=True)
        self.address_file.unlink(missing_ok=True)
