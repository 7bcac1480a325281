"""Store throughput and latency: raykube's three replicas against a real three-member etcd, same run.

    .venv/bin/python -m benchmarks.store [--seconds 8] [--clients 1,16,256]

For each system (started fresh on loopback, stopped afterwards): puts of random keys (10,000
keys, 256-byte values) with 1, 16 and 256 concurrent clients, then linearizable single-key
ranges with 256 clients. Clients are spread over the three members (writes and linearizable
reads at a follower go through the leader, in both systems) and over two load processes, so the
load generator is the same for both and runs beside them on this machine's two cores.
Every raykube number is reported as a ratio to etcd's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from benchmarks.clusters import EtcdCluster, RaykubeStoreCluster
from benchmarks.common import print_table, publish, summary
from benchmarks.store_load import LoadSpec, run_load

LOAD_PROCESSES = 2


def measure(endpoints: tuple[str, ...], operation: str, clients: int, seconds: float) -> dict[str, Any]:
    processes = min(LOAD_PROCESSES, clients)
    specs = [LoadSpec(endpoints, operation, clients // processes + (i < clients % processes), seconds, seed=i)
             for i in range(processes)]  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        started = time.monotonic()
        results = pool.map(run_load, specs)
        elapsed = time.monotonic() - started
    latencies = [latency for found, _ in results for latency in found]
    errors = sum(failed for _, failed in results)
    return {"ops_per_second": len(latencies) / seconds, "errors": errors, "wall_seconds": elapsed,
            **{f"latency_{k}_ms": v * 1000 for k, v in summary(latencies).items() if k != "count"},
            "operations": len(latencies)}  # fmt: skip


def _line(result: dict[str, Any]) -> str:
    return (f"{result['ops_per_second']:8.0f} ops/s, p50 {result['latency_p50_ms']:.1f} ms, "
            f"p99 {result['latency_p99_ms']:.1f} ms")  # fmt: skip


def run_system(
    name: str, start: Callable[[Path], AbstractContextManager[Any]], levels: list[int], seconds: float
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"store-bench-{name}-") as tmp, start(Path(tmp)) as cluster:
        print(f"{name}: three members up at {', '.join(cluster.endpoints)}", flush=True)
        for clients in levels:
            result = measure(cluster.endpoints, "put", clients, seconds)
            results[f"put_{clients}"] = result
            print(f"  {name} put, {clients:>3} clients: {_line(result)}", flush=True)
        top = max(levels)
        result = measure(cluster.endpoints, "range", top, seconds)
        results[f"range_{top}"] = result
        print(f"  {name} linearizable range, {top} clients: {_line(result)}", flush=True)
    return results


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(result["etcd"])
    fig, (throughput, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.38
    for offset, system in ((-width / 2, "etcd"), (width / 2, "raykube")):
        xs = [i + offset for i in range(len(workloads))]
        throughput.bar(xs, [result[system][w]["ops_per_second"] for w in workloads], width, label=system)
        latency.bar(xs, [result[system][w]["latency_p99_ms"] for w in workloads], width, label=system)
    for ax, title, unit in ((throughput, "Throughput", "ops/s"), (latency, "p99 latency", "ms")):
        ax.set_xticks(range(len(workloads)), [w.replace("_", "\n") + " clients" for w in workloads])
        ax.set(title=title, ylabel=unit)
        ax.legend()
    fig.suptitle("raykube's store (3 replicas) vs etcd 3.4 (3 members), same machine, same load")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="per measurement")
    parser.add_argument("--clients", default="1,16,256", help="concurrency levels for puts")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",")]
    result = {
        "etcd": run_system("etcd", EtcdCluster, levels, args.seconds),
        "raykube": run_system("raykube", RaykubeStoreCluster, levels, args.seconds),
    }
    rows = [["workload", "etcd ops/s", "raykube ops/s", "ratio", "etcd p50/p99 ms", "raykube p50/p99 ms"]]
    result["ratio_to_etcd"] = {}
    for workload, etcd in result["etcd"].items():
        ours = result["raykube"][workload]
        ratio = ours["ops_per_second"] / etcd["ops_per_second"]
        result["ratio_to_etcd"][workload] = ratio
        rows.append([workload.replace("_", ", ") + " clients", f"{etcd['ops_per_second']:.0f}",
                     f"{ours['ops_per_second']:.0f}", f"{ratio:.2f}",
                     f"{etcd['latency_p50_ms']:.1f} / {etcd['latency_p99_ms']:.1f}",
                     f"{ours['latency_p50_ms']:.1f} / {ours['latency_p99_ms']:.1f}"])  # fmt: skip
    print()
    print_table(rows)
    publish("store", result, plot)


if __name__ == "__main__":
    main()
