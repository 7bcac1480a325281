"""A real etcd (Debian's 3.4) on loopback in a temp dir, for wire comparisons; stopped by PID."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import grpc

from cluster.bootstrap.ray_node import free_ports
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

ETCD = shutil.which("etcd")


class RealEtcd:
    def __init__(self, data_dir: Path) -> None:
        assert ETCD is not None
        client, peer = free_ports(2)
        self.target = f"127.0.0.1:{client}"
        self.log_path = data_dir.parent / "etcd.log"
        peer_url, client_url = f"http://127.0.0.1:{peer}", f"http://{self.target}"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    ETCD,
                    "--name=wire",
                    f"--data-dir={data_dir}",
                    f"--listen-client-urls={client_url}",
                    f"--advertise-client-urls={client_url}",
                    f"--listen-peer-urls={peer_url}",
                    f"--initial-advertise-peer-urls={peer_url}",
                    f"--initial-cluster=wire={peer_url}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as ch:
            status = rpc_pb2_grpc.MaintenanceStub(ch).Status
            while True:
                try:
                    if status(rpc_pb2.StatusRequest(), timeout=1).leader:
                        return
                except grpc.RpcError:
                    pass  # not listening yet
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"etcd did not start; see {self.log_path}")
                time.sleep(0.1)

    def stop(self) -> None:
        terminate(self.proc)


def terminate(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Stop a child by its PID: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
