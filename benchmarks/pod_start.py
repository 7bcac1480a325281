"""Pod start latency on real Podman: create -> Running, next to a bare `podman run` in the same run.

    .venv/bin/python -m benchmarks.pod_start [--pods 20]

A real `raykube up` (Ray actors: store, API server, scheduler, kubelet on Podman). Two ways:
  - one at a time: create a pod, wait until it is Running, delete it; the latency of one start;
  - burst: create all pods at once; latency when the kubelet starts them together.
Baseline, same run: `podman run --rm` of the same image and command (busybox `true`), one at a
time, which is the floor for starting a container on this machine. Results are reported as
ratios to the baseline's median.
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
from benchmarks.common import RESULTS, TemporaryCluster, print_table, save, summary
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
    await delete_and_wait(client, names)
    watcher.cancel()
    return {"one_at_a_time": one_at_a_time, "burst": burst}


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

        async def run() -> dict[str, Any]:
            async with cluster.client() as client:
                return await measure(client, args.pods)

        samples = asyncio.run(run())
    samples["podman_run"] = baseline
    stats = {key: summary(values) for key, values in samples.items()}
    base = stats["podman_run"]["p50"]
    result = {"pods": args.pods, "stats": stats, "samples": samples,
              "ratio_p50_to_podman_run": {k: s["p50"] / base for k, s in stats.items()}}  # fmt: skip
    print()
    rows = [["measure", "p50 ms", "p99 ms", "p50 / podman run"]]
    labels = {"podman_run": "podman run --rm (baseline)", "one_at_a_time": "create->Running, one at a time",
              "burst": f"create->Running, burst of {args.pods}"}  # fmt: skip
    for key, label in labels.items():
        rows.append([label, f"{stats[key]['p50'] * 1000:.0f}", f"{stats[key]['p99'] * 1000:.0f}",
                     f"{stats[key]['p50'] / base:.2f}"])  # fmt: skip
    print_table(rows)
    path = save("pod_start", result)
    plot(result, RESULTS / "pod_start.png")
    print(f"\nsaved {path} and {RESULTS / 'pod_start.png'}")


if __name__ == "__main__":
    main()
