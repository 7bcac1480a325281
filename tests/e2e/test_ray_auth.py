"""Ray's token authentication, as a multi-host cluster runs it: the head and a joining host share
the cluster's token, a driver with it is served, and a driver without it is refused.

Run on loopback (127.0.0.2) so that no traffic leaves the machine; only the token differs from
a loopback cluster's setup, which is what `raykube up` turns on for clusters beyond loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cluster.bootstrap.ray_node import (
    LOOPBACK_NODE_IP,
    RAY_TOKEN_FILE,
    LocalRayNode,
    ensure_ray_token,
    ray_env,
)

pytestmark = pytest.mark.e2e

DRIVER = (
    "import ray, sys\n"
    f"ray.init(address=sys.argv[1], _node_ip_address='{LOOPBACK_NODE_IP}', log_to_driver=False)\n"
    "print(sorted(r for r in ray.cluster_resources() if r.startswith('host:')))\n"
)


def driver(address: str, token: Path | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_TOKEN_PATH"}
    return subprocess.run([sys.executable, "-c", DRIVER, address], env={**env, **ray_env(token)},
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_nodes_and_drivers_need_the_clusters_ray_token(tmp_path: Path) -> None:
    token = ensure_ray_token(tmp_path / "first")
    assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text()) == 64
    assert ensure_ray_token(tmp_path / "first").read_text() == token.read_text()  # made once
    head, second = LocalRayNode(tmp_path / "first"), LocalRayNode(tmp_path / "second")
    try:
        address = head.start(port=0, host_name="first", loopback=True, token_file=token)
        copied = tmp_path / "second" / RAY_TOKEN_FILE
        copied.parent.mkdir()
        copied.write_text(token.read_text())
        second.start(port=0, host_name="second", loopback=True, join=address, token_file=copied)
        served = driver(address, token)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip() == "['host:first', 'host:second']"
        refused = driver(address, None)
        assert refused.returncode != 0 and "Failed to connect to Ray cluster" in refused.stderr
    finally:
        second.stop()
        head.stop()
