"""Store replicas as real processes (`python -m cluster.store`), on loopback, stopped by their PID.

Client and peer ports are picked once per replica name, so a replica restarted (or replaced) keeps
its addresses, as a real deployment's would. Each process logs to `<root>/<name>.log`. Ticks are
20 ms (elections within 0.2-0.4 s) and requests time out after 2 s, so faults resolve quickly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc

from cluster.bootstrap.ray_node import free_ports
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.store.v1 import store_pb2, store_pb2_grpc

from .etcd_process import terminate

REPO = Path(__file__).resolve().parents[2]


class StoreProcess:
    def __init__(self, name: str, argv: list[str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # the process prints this once serving, or dies
        if not line.startswith("listening on "):
            self.kill()
            raise RuntimeError(f"{name} did not start: {line!r}; see {log_path}")
        self.target = line.split()[-1]

    def kill(self) -> None:
        """SIGKILL: no cleanup of any kind, as a crash."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        terminate(self.proc)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


class ProcessCluster:
    def __init__(
        self,
        root: Path,
        size: int = 3,
        *,
        snapshot_every: int = 10_000,
        catchup: int = 5_000,
        tick_ms: int = 20,
        request_timeout: float = 2.0,
    ) -> None:
        self.root = root
        self.names = [f"store-{i}" for i in range(size)]
        ports = [f"127.0.0.1:{port}" for port in free_ports(2 * size)]  # together: none twice
        self.peers = dict(zip(self.names, ports[:size], strict=True))
        self.clients = dict(zip(self.names, ports[size:], strict=True))
        self._raft_flags = ["--tick-ms", str(tick_ms), "--request-timeout", str(request_timeout)]
        self._raft_flags += ["--snapshot-every", str(snapshot_every), "--catchup-entries", str(catchup)]
        self.procs: dict[str, StoreProcess] = {}
        for name in self.names:
            self.start(name)

    def start(self, name: str, state: str = "new") -> StoreProcess:
        cluster = ",".join(f"{n}={address}" for n, address in self.peers.items())
        argv = [sys.executable, "-m", "cluster.store", "--name", name, "--data-dir", str(self.root / name)]
        argv += ["--listen-client", self.clients[name], "--initial-cluster", cluster]
        argv += ["--initial-cluster-state", state, "--enable-fault-injection", *self._raft_flags]
        proc = self.procs[name] = StoreProcess(name, argv, self.root / f"{name}.log")
        return proc

    def kill(self, name: str) -> None:
        self.procs.pop(name).kill()

    def close(self) -> None:
        for name in list(self.procs):
            self.procs.pop(name).stop()

    def status(self, name: str) -> rpc_pb2.StatusResponse | None:
        try:
            with grpc.insecure_channel(self.clients[name]) as channel:
                return rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=1)
        except grpc.RpcError:
            return None

    def leader(self, timeout: float = 30.0) -> str:
        """The name of the replica that every running replica names as leader (waiting for one: three
        Python processes starting on a loaded 2-core machine can take seconds to agree)."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = {name: self.status(name) for name in self.procs}
            leaders = {s.leader if s else 0 for s in statuses.values()}
            if len(leaders) == 1 and 0 not in leaders:
                (leader_id,) = leaders
                for name, s in statuses.items():
                    if s is not None and s.header.member_id == leader_id:
                        return name
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreed leader within {timeout}s: {statuses}")
            time.sleep(0.02)

    def member_id(self, name: str) -> int:
        status = self.status(name)
        assert status is not None, name
        return int(status.header.member_id)

    def cut_off(self, name: str) -> None:
        """Partition `name` from the others (both directions, at every replica's transport)."""
        victim = self.member_id(name)
        others = {n: self.member_id(n) for n in self.procs if n != name}
        self.set_faults(name, list(others.values()))
        for other in others:
            self.set_faults(other, [victim])

    def heal(self) -> None:
        for name in self.procs:
            self.set_faults(name, [])

    def set_faults(self, name: str, drop: list[int]) -> None:
        with grpc.insecure_channel(self.clients[name]) as channel:
            store_pb2_grpc.StoreAdminStub(channel).SetFaults(
                store_pb2.SetFaultsRequest(drop_peers=drop), timeout=5
            )

    @contextmanager
    def channel(self, name: str) -> Iterator[grpc.Channel]:
        with grpc.insecure_channel(self.clients[name]) as channel:
            yield channel
