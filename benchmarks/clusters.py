"""Three-member key-value clusters on loopback for the store benchmark, started and stopped by PID.

Both systems run the same way: three member processes on free ports, each with its own data
directory and default durability (fsync) and timings, one log file each in the work directory.
`EtcdCluster` is Debian's etcd 3.4; `RaykubeStoreCluster` is raykube's store (`python -m cluster.store`);
`GrpcFloor` is three servers that answer without storing anything (the most Python's gRPC allows).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import grpc

from cluster.bootstrap.ray_node import free_ports
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


class ThreeMembers:
    """Start one process per member (`command`), wait for a leader; stop them all on exit."""

    prefix = "member"

    def __init__(self, data_dir: Path, members: int = 3):
        self._dir = data_dir
        self.names = [f"{self.prefix}-{i}" for i in range(members)]
        ports = [f"127.0.0.1:{port}" for port in free_ports(2 * members)]  # together: none twice
        self.peers = dict(zip(self.names, ports[:members], strict=True))
        self.endpoints = tuple(ports[members:])
        self._processes: list[subprocess.Popen[bytes]] = []

    def command(self, name: str, endpoint: str) -> list[str]:
        raise NotImplementedError

    def __enter__(self) -> ThreeMembers:
        for name, endpoint in zip(self.names, self.endpoints, strict=True):
            with (self._dir / f"{name}.log").open("wb") as log:
                self._processes.append(subprocess.Popen(self.command(name, endpoint), stdout=log, stderr=log))
        self._wait_for_leader()
        return self

    def _wait_for_leader(self, timeout: float = 30.0) -> None:
        """Until every member serves and knows a leader (the load goes to all of them)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(map(self._knows_leader, self.endpoints)):
                return
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(
            f"{type(self).__name__} elected no leader within {timeout:.0f}s; logs in {self._dir}"
        )

    @staticmethod
    def _knows_leader(endpoint: str) -> bool:
        try:
            with grpc.insecure_channel(endpoint) as channel:
                status = rpc_pb2_grpc.MaintenanceStub(channel).Status(rpc_pb2.StatusRequest(), timeout=1)
                return bool(status.leader)
        except grpc.RpcError:
            return False  # not serving yet

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in self._processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)


class EtcdCluster(ThreeMembers):
    prefix = "etcd"

    def command(self, name: str, endpoint: str) -> list[str]:
        etcd = shutil.which("etcd")
        if etcd is None:
            raise RuntimeError("etcd is not installed (Debian's etcd-server; scripts/setup.sh installs it)")
        initial = ",".join(f"{n}=http://{address}" for n, address in self.peers.items())
        return [
            etcd, f"--name={name}", f"--data-dir={self._dir / name}",
            f"--listen-client-urls=http://{endpoint}", f"--advertise-client-urls=http://{endpoint}",
            f"--listen-peer-urls=http://{self.peers[name]}", f"--initial-advertise-peer-urls=http://{self.peers[name]}",
            f"--initial-cluster={initial}", "--initial-cluster-state=new", "--initial-cluster-token=bench",
        ]  # fmt: skip


class RaykubeStoreCluster(ThreeMembers):
    prefix = "store"

    def command(self, name: str, endpoint: str) -> list[str]:
        initial = ",".join(f"{n}={address}" for n, address in self.peers.items())
        return [
            sys.executable, "-m", "cluster.store", f"--name={name}", f"--data-dir={self._dir / name}",
            f"--listen-client={endpoint}", f"--listen-peer={self.peers[name]}",
            f"--initial-cluster={initial}",
        ]  # fmt: skip


class GrpcFloor(ThreeMembers):
    """Three do-nothing Python gRPC servers (benchmarks/grpc_floor.py): the ceiling of any store
    served by Python's gRPC on this machine, under the same load."""

    prefix = "floor"

    def command(self, name: str, endpoint: str) -> list[str]:
        return [sys.executable, "-m", "benchmarks.grpc_floor", f"--listen={endpoint}"]
