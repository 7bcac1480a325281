"""Store throughput and latency: raykube's three replicas against a real three-member etcd, same run.

    .venv/bin/python -m benchmarks.store [--seconds 5] [--rounds 3] [--clients 1,16,256]

Both systems are started fresh on loopback (each member its own process) and stay up together;
each workload is measured on etcd, then on raykube, then again, `rounds` times, so that the two
runs of a pair see the same machine (on a shared VM the rate drifts by a third within minutes,
and a ratio of two runs minutes apart measured the drift as much as the store). Workloads: puts
of random keys (10,000 keys, 256-byte values) with 1, 16 and 256 concurrent clients, then
linearizable single-key ranges with 256 clients. Clients are spread over the three members
(writes and linearizable reads at a follower go through the leader, in both systems) and over
two load processes, the same load code for both systems, beside them on this machine's cores.
Reported: each system's median rate and pooled latencies; the ratio is the median of the
rounds' ratios, with their range.

A third system sets the ceiling: `floor`, three Python gRPC servers that answer Put and Range at
once and keep nothing (benchmarks/grpc_floor.py). raykube's store is served by the same gRPC
stack, so floor/etcd is the most it could reach here, and raykube/floor is how much of that its
storage, replication and durability leave.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.clusters import EtcdCluster, GrpcFloor, RaykubeStoreCluster
from benchmarks.common import print_table, publish, summary
from benchmarks.store_load import LoadSpec, run_load

LOAD_PROCESSES = 2
RATIOS = {  # result key -> (system, baseline): each the median of the rounds' ratios
    "ratio_to_etcd": ("raykube", "etcd"),
    "floor_to_etcd": ("floor", "etcd"),
    "ratio_to_floor": ("raykube", "floor"),
}
SYSTEMS = {"etcd": EtcdCluster, "raykube": RaykubeStoreCluster, "floor": GrpcFloor}


def measure(endpoints: tuple[str, ...], operation: str, clients: int, seconds: float) -> dict[str, Any]:
    """One run: every latency (seconds) and the failed requests."""
    processes = min(LOAD_PROCESSES, clients)
    specs = [LoadSpec(endpoints, operation, clients // processes + (i < clients % processes), seconds, seed=i)
             for i in range(processes)]  # fmt: skip
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(run_load, specs)
    return {"latencies": [latency for found, _ in results for latency in found],
            "errors": sum(failed for _, failed in results)}  # fmt: skip


def combined(runs: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """A system's result for one workload over its rounds: median rate, pooled latencies."""
    rates = [len(run["latencies"]) / seconds for run in runs]
    latencies = [latency for run in runs for latency in run["latencies"]]
    found: dict[str, Any] = {
        f"latency_{k}_ms": v * 1000 for k, v in summary(latencies).items() if k != "count"
    }
    found.update(ops_per_second=statistics.median(rates), rounds_ops_per_second=rates,
                 errors=sum(run["errors"] for run in runs), operations=len(latencies))  # fmt: skip
    return found


def run(levels: list[int], seconds: float, rounds: int) -> dict[str, Any]:
    workloads = [("put", clients) for clients in levels] + [("range", max(levels))]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {name: {} for name in SYSTEMS}
    with tempfile.TemporaryDirectory(prefix="store-bench-") as tmp, ExitStack() as stack:
        clusters = {}
        for name, start in SYSTEMS.items():
            (Path(tmp) / name).mkdir()
            clusters[name] = stack.enter_context(start(Path(tmp) / name))
            print(f"{name}: three members up at {', '.join(clusters[name].endpoints)}", flush=True)
        started = time.monotonic()
        for operation, clients in workloads:
            workload = f"{operation}_{clients}"
            for round_ in range(rounds):
                for name, cluster in clusters.items():
                    found = measure(cluster.endpoints, operation, clients, seconds)
                    runs[name].setdefault(workload, []).append(found)
                    print(f"  [{time.monotonic() - started:5.0f} s] {workload}, round {round_ + 1}/{rounds}, "
                          f"{name}: {len(found['latencies']) / seconds:7.0f} ops/s", flush=True)  # fmt: skip
    result: dict[str, Any] = {
        name: {w: combined(r, seconds) for w, r in found.items()} for name, found in runs.items()
    }
    for key, (system, baseline) in RATIOS.items():
        result[key], result[f"{key}_range"] = {}, {}
        for workload in result["etcd"]:
            ours, theirs = (result[name][workload]["rounds_ops_per_second"] for name in (system, baseline))
            ratios = [a / b for a, b in zip(ours, theirs, strict=True)]
            result[key][workload] = statistics.median(ratios)
            result[f"{key}_range"][workload] = [min(ratios), max(ratios)]
    return result


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(result["etcd"])
    fig, (throughput, latency) = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.27
    for offset, system in ((-width, "etcd"), (0.0, "raykube"), (width, "floor")):
        xs = [i + offset for i in range(len(workloads))]
        throughput.bar(xs, [result[system][w]["ops_per_second"] for w in workloads], width, label=system)
        latency.bar(xs, [result[system][w]["latency_p99_ms"] for w in workloads], width, label=system)
    for ax, title, unit in ((throughput, "Throughput", "ops/s"), (latency, "p99 latency", "ms")):
        ax.set_xticks(range(len(workloads)), [w.replace("_", "\n") + " clients" for w in workloads])
        ax.set(title=title, ylabel=unit)
        ax.legend()
    fig.suptitle("raykube's store (3 replicas) vs etcd 3.4 (3 members) and a do-nothing Python gRPC server "
                 "(floor), same machine, same load")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each system per workload, alternating")
    parser.add_argument("--clients", default="1,16,256", help="concurrency levels for puts")
    args = parser.parse_args()
    result = run([int(c) for c in args.clients.split(",")], args.seconds, args.rounds)
    rows = [["workload", "etcd ops/s", "raykube ops/s", "raykube/etcd (range)", "floor ops/s", "floor/etcd",
             "raykube/floor", "etcd p50/p99 ms", "raykube p50/p99 ms"]]  # fmt: skip

    def ratio(key: str, workload: str) -> str:
        low, high = result[f"{key}_range"][workload]
        return f"{result[key][workload]:.2f} ({low:.2f}-{high:.2f})"

    for workload, etcd in result["etcd"].items():
        ours, floor = result["raykube"][workload], result["floor"][workload]
        rows.append([workload.replace("_", ", ") + " clients", f"{etcd['ops_per_second']:.0f}",
                     f"{ours['ops_per_second']:.0f}", ratio("ratio_to_etcd", workload),
                     f"{floor['ops_per_second']:.0f}", ratio("floor_to_etcd", workload),
                     ratio("ratio_to_floor", workload),
                     f"{etcd['latency_p50_ms']:.1f} / {etcd['latency_p99_ms']:.1f}",
                     f"{ours['latency_p50_ms']:.1f} / {ours['latency_p99_ms']:.1f}"])  # fmt: skip
    print()
    print_table(rows)
    publish("store", result, plot)


if __name__ == "__main__":
    main()
