"""What every benchmark shares: a throwaway local cluster, percentiles, and saving results.

`TemporaryCluster` runs the real `raykube up` (Ray head, store, API server, scheduler, kubelet)
in a fresh RAYKUBE_HOME on free loopback ports, and `raykube down --purge` afterwards, so a
benchmark never touches a cluster the user has running. Results go to benchmarks/results/<name>.json
and .png; every number is also printed, with ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from cluster.client import config as client_config
from cluster.client.api import ApiClient

RESULTS = Path(__file__).resolve().parent / "results"
RAYKUBE = str(Path(sys.executable).with_name("raykube"))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "mean": statistics.fmean(values) if values else float("nan"),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(
                cell.rjust(w) if i else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def save(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def publish(name: str, result: dict[str, Any], plot: Callable[[dict[str, Any], Path], None]) -> None:
    """Save `result` as benchmarks/results/<name>.json and its plot as <name>.png, and say where."""
    path = save(name, result)
    picture = RESULTS / f"{name}.png"
    plot(result, picture)
    print(f"\nsaved {path} and {picture}")


class TemporaryCluster:
    """A local raykube cluster in a temporary home, brought up and torn down with the real CLI."""

    def __init__(self, name: str, *up_args: str):
        self._up_args = up_args
        self._tmp = tempfile.TemporaryDirectory(prefix=f"raykube-bench-{name}-")
        self.home = Path(self._tmp.name)
        self.node_name = f"bench-{name}-{os.getpid()}"
        self.env = {**os.environ, "RAYKUBE_HOME": str(self.home)}

    def raykube(self, *args: str, check: bool = True) -> str:
        done = subprocess.run([RAYKUBE, *args], env=self.env, capture_output=True, text=True, check=False)
        if check and done.returncode:
            raise RuntimeError(f"raykube {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def __enter__(self) -> TemporaryCluster:
        print(f"bringing up a local cluster in {self.home} ...", flush=True)
        started = time.monotonic()
        try:
            self.up()
        except BaseException:
            self.__exit__(None, None, None)  # a half-started cluster (a Ray head at least) goes too
            raise
        print(f"cluster up in {time.monotonic() - started:.1f}s", flush=True)
        self.config = client_config.load(self.home)
        return self

    def up(self) -> None:
        """`raykube up` with this cluster's options: the first time, and again to start what was
        stopped (it is level-triggered)."""
        ports = ["--ray-port=0", "--apiserver-port=0", "--grpc-port=0", "--store-port=0", "--kubelet-port=0",
                 "--dns-port=0"]  # fmt: skip
        self.raykube("up", *ports, f"--node-name={self.node_name}", *self._up_args)

    def client(self) -> ApiClient:
        return self.config.client()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        print("tearing the cluster down ...", flush=True)
        self.raykube("down", "--purge", check=False)
        self._tmp.cleanup()


Measure = Callable[[ApiClient], Awaitable[dict[str, Any]]]  # a benchmark, given an admin client
HOLLOW_CAPACITY = {"cpu": "32", "memory": "128Gi", "pods": "110"}


def measure_on_client(cluster: TemporaryCluster, measure: Measure) -> dict[str, Any]:
    """Run `measure` with an admin client of `cluster`, on an event loop of its own."""

    async def run() -> dict[str, Any]:
        async with cluster.client() as client:
            return await measure(client)

    return asyncio.run(run())


def start_hollow_nodes(cluster: TemporaryCluster, groups: dict[str, dict[str, Any]]) -> None:
    """One hollow-node actor per group (actor name -> HollowNodesSettings' fields but the
    credential, which is the admin's), on this host; Ray must be connected."""
    from cluster.bootstrap.actors import ensure_actor
    from cluster.bootstrap.settings import ComponentSpec, HollowNodesSettings

    admin_tls = cluster.config.tls
    assert admin_tls is not None, "raykube up writes the admin's certificate"
    for actor, fields in groups.items():
        ensure_actor(ComponentSpec(actor, cluster.node_name, HollowNodesSettings(tls=admin_tls, **fields)))


def with_hollow_nodes(name: str, groups: dict[str, tuple[str, int]], measure: Measure) -> dict[str, Any]:
    """A throwaway cluster plus hollow-node actors (actor name -> (node name prefix, count)), all
    nodes of the same capacity; `measure` runs against it."""
    import ray

    from cluster.bootstrap.actors import connect_ray

    with TemporaryCluster(name) as cluster:
        connect_ray(cluster.home)
        try:
            start_hollow_nodes(cluster, {
                actor: {"prefix": prefix, "count": count, "capacity": HOLLOW_CAPACITY}
                for actor, (prefix, count) in groups.items()
            })  # fmt: skip
            return measure_on_client(cluster, measure)
        finally:
            ray.shutdown()
