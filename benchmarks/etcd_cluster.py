"""A real three-member etcd (Debian's etcd-server 3.4) on loopback, for comparison; stopped by PID.

The members use etcd's own local-cluster layout (as in etcd's Procfile) but on free ports, each
with its own data directory and fsync as configured by default.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import grpc

from cluster.bootstrap.ray_node import free_port
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


class EtcdCluster:
    def __init__(self, data_dir: Path, members: int = 3):
        etcd = shutil.which("etcd")
        if etcd is None:
            raise RuntimeError("etcd is not installed (Debian's etcd-server; scripts/setup.sh installs it)")
        self._etcd = etcd
        self._dir = data_dir
        self.names = [f"etcd-{i}" for i in range(members)]
        self.peers = {name: f"http://127.0.0.1:{free_port()}" for name in self.names}
        self.endpoints = tuple(f"127.0.0.1:{free_port()}" for _ in self.names)
        self._processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> EtcdCluster:
        initial = ",".join(f"{name}={url}" for name, url in self.peers.items())
        for name, endpoint in zip(self.names, self.endpoints, strict=True):
            log = (self._dir / f"{name}.log").open("wb")
            self._processes.append(subprocess.Popen([
                self._etcd, f"--name={name}", f"--data-dir={self._dir / name}",
                f"--listen-client-urls=http://{endpoint}", f"--advertise-client-urls=http://{endpoint}",
                f"--listen-peer-urls={self.peers[name]}", f"--initial-advertise-peer-urls={self.peers[name]}",
                f"--initial-cluster={initial}", "--initial-cluster-state=new",
                "--initial-cluster-token=bench",
            ], stdout=log, stderr=subprocess.STDOUT))  # fmt: skip
            log.close()
        self._wait_for_leader()
        return self

    def _wait_for_leader(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with grpc.insecure_channel(self.endpoints[0]) as channel:
                    if (
                        rpc_pb2_grpc.MaintenanceStub(channel)
                        .Status(rpc_pb2.StatusRequest(), timeout=1)
                        .leader
                    ):
                        return
            except grpc.RpcError:
                pass  # not serving yet
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"etcd elected no leader within {timeout:.0f}s; logs in {self._dir}")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        for process in self._processes:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in self._processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(10)
