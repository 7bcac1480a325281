"""Pod start latency on real Podman: create -> Running, next to a bare `podman run` in the same run.

    .venv/bin/python -m benchmarks.pod_start [--pods 20]

A real `raykube up` (Ray actors: store, API server, scheduler, kubelet on Podman). Two ways:
  - one at a time: create a pod, wait until it is Running, delete it; the latency of one start;
  - burst: create all pods at once; latency when the kubelet starts them together.
Baseline, same run: `podman run --rm` of the same image (busybox `true`), one at a time, the floor
for starting a container on this machine. One-at-a-time latencies are compared with one `podman
run`; the burst's completion time with the time of the same number of `podman run`s in a row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from agents.kubelet.podman_service import CONTAINERS_CONF
from benchmarks.common import TemporaryCluster, measure_on_client, print_table, publish, summary
from cluster.api import codec, resources
from cluster.client.api import ApiClient
from raykube.v1 import pod_pb2

IMAGE = "localhost/busybox:1.35"


def podman_run_seconds(count: int) -> list[float]:
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
    times = []
    for _ in range(count):
        started = time.monotonic()
        subprocess.run(["podman", "run", "--rm", IMAGE, "true"], env=env, check=True, capture_output=True)
        times.append(time.monotonic() - started)
    return times


def bench_pod(name: str) -> pod_pb2.Pod:
    return codec.decode({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "start-bench"}},
        "spec": {"terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]},
    }, pod_pb2.Pod)  # fmt: skip


class RunningWatch:
    """Timestamps, in this process, the moment each pod is first seen Running."""

    def __init__(self, client: ApiClient):
        self.client = client
        self.running: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def run(self, version: str) -> None:
        async for _, obj in self.client.watch(
            resources.PODS, resource_version=version, label_selector="app=start-bench"
        ):
            if (
                isinstance(obj, pod_pb2.Pod)
                and obj.status.phase == "Running"
                and obj.metadata.name not in self.running
            ):
                self.running[obj.metadata.name] = time.monotonic()
                self.changed.set()

    async def wait_for(self, names: list[str], timeout: float = 120) -> None:
        async def all_running() -> None:
            while not all(n in self.running for n in names):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(all_running(), timeout)


async def delete_and_wait(client: ApiClient, names: list[str]) -> None:
    for name in names:
        await client.delete(resources.PODS, "default", name, grace_period_seconds=1)
    while (await client.list(resources.PODS, label_selector="app=start-bench"))[0]:
        await asyncio.sleep(0.2)


async def measure(client: ApiClient, pods: int) -> dict[str, Any]:
    _, version = await client.list(resources.PODS)
    watch = RunningWatch(client)
    watcher = asyncio.create_task(watch.run(version))
    one_at_a_time: list[float] = []
    for i in range(pods):
        name = f"seq-{i}"
        sent = time.monotonic()
        await client.create(bench_pod(name))
        await watch.wait_for([name])
        one_at_a_time.append(watch.running[name] - sent)
        await delete_and_wait(client, [name])
        print(f"  one at a time: {i + 1}/{pods} ({one_at_a_time[-1] * 1000:.0f} ms)", flush=True)
    names = [f"burst-{i}" for i in range(pods)]
    sent_at = {}
    for name in names:
        sent_at[name] = time.monotonic()
        await client.create(bench_pod(name))
    await watch.wait_for(names)
    burst = [watch.running[n] - sent_at[n] for n in names]
    span = max(watch.running[n] for n in names) - min(sent_at.values())
    print(f"  burst of {pods}: all Running {span:.2f}s after the first create", flush=True)
    return_value = {"one_at_a_time": one_at_a_time, "burst": burst, "burst_all_running_seconds": span}
    await delete_and_wait(client, names)
    watcher.cancel()
    return return_value


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {"podman run (baseline)": result["samples"]["podman_run"],
              "raykube, one at a time": result["samples"]["one_at_a_time"],
              "raykube, burst": result["samples"]["burst"]}  # fmt: skip
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.boxplot([[v * 1000 for v in values] for values in series.values()], tick_labels=list(series))
    ax.set(ylabel="latency (ms)", title=f"Pod start latency ({result['pods']} pods each)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20)
    args = parser.parse_args()
    print(f"baseline: {args.pods} x podman run --rm {IMAGE} true ...", flush=True)
    baseline = podman_run_seconds(args.pods)
    with TemporaryCluster("podstart") as cluster:
        measured = measure_on_client(cluster, lambda client: measure(client, args.pods))
    span = measured.pop("burst_all_running_seconds")
    samples = {**measured, "podman_run": baseline}
    stats = {key: summary(values) for key, values in samples.items()}
    base = stats["podman_run"]["p50"]
    result = {
        "pods": args.pods,
        "stats": stats,
        "samples": samples,
        "ratio_one_at_a_time_p50_to_podman_run": stats["one_at_a_time"]["p50"] / base,
        "burst_all_running_seconds": span,
        "podman_runs_in_a_row_seconds": sum(baseline),
        "ratio_burst_to_podman_runs_in_a_row": span / sum(baseline),
    }
    print()

    def ms(key: str, q: str) -> str:
        return f"{stats[key][q] * 1000:.0f}"

    print_table([
        ["measure", "p50 ms", "p99 ms", "total s", "ratio to baseline"],
        ["podman run --rm, one at a time (baseline)", ms("podman_run", "p50"), ms("podman_run", "p99"),
         f"{sum(baseline):.2f}", "1.00"],
        ["raykube create->Running, one at a time", ms("one_at_a_time", "p50"), ms("one_at_a_time", "p99"), "",
         f"{stats['one_at_a_time']['p50'] / base:.2f} (p50)"],
        [f"raykube create->Running, burst of {args.pods}", ms("burst", "p50"), ms("burst", "p99"),
         f"{span:.2f}",
         f"{span / sum(baseline):.2f} (total)"],
    ])  # fmt: skip
    publish("pod_start", result, plot)


if __name__ == "__main__":
    main()
