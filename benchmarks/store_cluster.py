"""raykube's store as three real replica processes (`python -m cluster.store`) on loopback, stopped by PID.

The same shape as the etcd cluster it is compared with: three members, each with its own data
directory and fsync, default timings (100 ms ticks, 10-tick elections), on free ports.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import grpc

from cluster.bootstrap.ray_node import free_port
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


class RaykubeStoreCluster:
    def __init__(self, data_dir: Path, members: int = 3):
        self._dir = data_dir
        self.names = [f"store-{i}" for i in range(members)]
        self.peers = {name: f"127.0.0.1:{free_port()}" for name in self.names}
        self.endpoints = tuple(f"127.0.0.1:{free_port()}" for _ in self.names)
        self._processes: list[subprocess.Popen[str]] = []

    def __enter__(self) -> RaykubeStoreCluster:
        initial = ",".join(f"{name}={address}" for name, address in self.peers.items())
        for name, endpoint in zip(self.names, self.endpoints, strict=True):
            log = (self._dir / f"{name}.log").open("w")
            self._processes.append(subprocess.Popen([
                sys.executable, "-m", "cluster.store", f"--name={name}", f"--data-dir={self._dir / name}",
                f"--listen-client={endpoint}", f"--listen-peer={self.peers[name]}",
                f"--initial-cluster={initial}",
            ], stdout=subprocess.DEVNULL, stderr=log, text=True))  # fmt: skip
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
        raise RuntimeError(f"the store elected no leader within {timeout:.0f}s; logs in {self._dir}")

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
