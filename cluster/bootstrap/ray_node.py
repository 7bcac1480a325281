"""The local Ray head that `raykube up` starts when no Ray cluster is given (and, for tests, more
Ray nodes on this machine that join it as further hosts).

`ray start --head --block` runs in a session of its own, so everything it starts (GCS, raylet,
workers, our actors) belongs to that session. `stop()` sends it SIGTERM (Ray then stops its
processes; draining is disabled so this takes about two seconds), and kills whatever is left in
that session by its session id: the cluster is stopped by its own handle, never by name.

Ray's environment is pinned identically for every node and driver (PLATFORM.md: token auth must
be set explicitly, or `ray start --head` may turn it on silently and workers fail). A cluster
whose Ray nodes listen beyond loopback runs Ray's token authentication: every node and driver
presents the cluster's Ray token (RAY_TOKEN_FILE in RAYKUBE_HOME, 0600, made by the first `up`
and copied to each host that joins); a single machine's loopback cluster runs without.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

RAY_ENV: Mapping[str, str] = {
    "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DEDUP_LOGS": "0",
}
STARTED_MARKER = "Ray runtime started"
RAY_TOKEN_FILE = "ray-token"  # in RAYKUBE_HOME: the Ray cluster's shared secret (multi-host clusters)
STATE_FILE = "cluster.json"  # in RAYKUBE_HOME: where `raykube up` records the Ray cluster it uses
# A single-machine cluster's Ray nodes use this loopback address. Not 127.0.0.1: Ray rewrites
# that one (and "localhost") to the host's routable address when a client connects, while any
# other 127/8 address is taken as given, so every Ray connection stays on loopback.
LOOPBACK_NODE_IP = "127.0.0.2"


def ray_env(token_file: Path | None) -> dict[str, str]:
    """Ray's pinned environment: with token authentication when a token file is given."""
    if token_file is None:
        return {**RAY_ENV, "RAY_AUTH_MODE": "disabled"}
    return {**RAY_ENV, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token_file)}


def apply_ray_env(token_file: Path | None) -> None:
    """Set Ray's pinned environment in this process (a driver joining the cluster)."""
    os.environ.pop("RAY_AUTH_TOKEN_PATH", None)
    os.environ.update(ray_env(token_file))


class MissingRayToken(RuntimeError):
    """A host of a token-authenticated cluster without the cluster's token."""


def cluster_ray_token(home: Path, *, makes_head: bool, loopback: bool) -> Path | None:
    """The Ray token this home's nodes and drivers present: none on loopback; made by whoever
    starts the head; copied to every other host (MissingRayToken says where from if it is not)."""
    if loopback:
        return None
    if makes_head:
        return ensure_ray_token(home)
    path = home / RAY_TOKEN_FILE
    if not path.exists():
        raise MissingRayToken(
            f"this cluster's Ray nodes authenticate with a token, and there is none at {path}: "
            f"copy {RAY_TOKEN_FILE} from the first host's RAYKUBE_HOME (or pass --ray-token-file)"
        )
    return path


def up_ray_token(home: Path, *, ray_address: str, bind_loopback: bool) -> Path | None:
    """The token `raykube up` runs with: it starts the head unless given a Ray address, and the
    cluster is on loopback when that head binds loopback, or when the address given is."""
    makes_head = not ray_address
    loopback = bind_loopback if makes_head else ray_address.startswith("127.")
    return cluster_ray_token(home, makes_head=makes_head, loopback=loopback)


def recorded_ray_token(home: Path) -> Path | None:
    """The token `raykube up` recorded for this home's cluster (None: none, or no cluster)."""
    try:
        token = json.loads((home / STATE_FILE).read_text()).get("ray_token")
    except (FileNotFoundError, ValueError):
        return None
    return Path(token) if token else None


def ensure_ray_token(home: Path) -> Path:
    """The Ray token file in `home`, made (random, 0600) if there is none yet."""
    path = home / RAY_TOKEN_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(32))
    return path


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports free now. They are held open together while picked: picked one
    by one, each socket closed before the next pick, the system may hand out one port twice (it
    did: Ray refused a head whose GCS and runtime-env agent had both been given the same port)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]


def _raise_open_files_limit() -> None:
    """preexec_fn: Ray wants thousands of open files; lift the soft limit towards the hard one."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def primary_ip() -> str:
    """This host's primary IPv4 address (a routing-table lookup: a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("192.0.2.1", 9))
        address: str = sock.getsockname()[0]
        return address


def session_processes(sid: int) -> list[int]:
    """Live PIDs whose session id is `sid` (everything a `start_new_session` child spawned)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # after "pid (comm)": state, ppid, pgrp, session
            pids.append(int(entry.name))  # (zombies have exited: only their parent's reaping is left)
    return pids


class LocalRayNode:
    """A Ray node this machine runs (the head, or one more host), owned through files in `home`."""

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
        join: str = "",
        token_file: Path | None = None,
        object_store_bytes: int = 200 * 1024 * 1024,
        timeout: float = 90.0,
    ) -> str:
        """Start a Ray node and wait until it is up; returns the cluster's address (GCS host:port).

        The node is the head of a new cluster, or (`join`: the head's address) one more host of an
        existing one; `host_name` becomes its `host:<name>` resource. `loopback`: a single-machine
        cluster, every Ray node on LOOPBACK_NODE_IP; otherwise this host's primary address.
        `token_file`: run with Ray's token authentication, presenting this token.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        node_ip = LOOPBACK_NODE_IP if loopback else primary_ip()
        picked = free_ports(6, node_ip)
        port = port or picked[0]
        client_server, agent_http, agent_grpc, metrics, runtime_env = picked[1:]
        role = (
            [f"--address={join}"]
            if join
            else [
                "--head",
                f"--port={port}",
                "--include-dashboard=false",
                f"--ray-client-server-port={client_server}",
            ]
        )
        command = [
            str(Path(sys.executable).with_name("ray")), "start", "--block", *role,
            f"--node-ip-address={node_ip}",
            "--disable-usage-stats",
            f"--object-store-memory={object_store_bytes}",
            f"--resources={json.dumps({f'host:{host_name}': 1})}",
            # Ray's auxiliary ports default to fixed numbers; free ones let two clusters share a machine.
            f"--dashboard-agent-listen-port={agent_http}",
            f"--dashboard-agent-grpc-port={agent_grpc}",
            f"--metrics-export-port={metrics}",
            f"--runtime-env-agent-port={runtime_env}",
        ]  # fmt: skip
        log = self.log_file.open("w")
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={
                **{k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN_PATH"},
                **ray_env(token_file),
            },
            preexec_fn=_raise_open_files_limit,
        )
        log.close()
        self.pid_file.write_text(str(process.pid))
        address = join or f"{node_ip}:{port}"
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
        """SIGTERM the node, wait, then SIGKILL anything left in its session; reap it if it is our child."""
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
