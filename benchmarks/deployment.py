"""A Deployment of 1,000 replicas on 100 hollow nodes, and the loss of a host, on a real local cluster.

    .venv/bin/python -m benchmarks.deployment [--nodes 100] [--replicas 1000]

A real `raykube up` (store, API server, scheduler and controller manager as Ray actors) plus
hollow nodes (kubemark-style: registered, heartbeating Nodes whose kubelet reports bound pods
Running at once). Measured, through a watch in this process:
  - the Deployment: seconds from its creation until all replicas are available, and each pod's
    startup latency (first seen -> Running, Kubernetes' pod startup SLO: p99 <= 5 s);
  - host loss: one more hollow node, holding its share of the Deployment's pods, is killed (its
    Ray actor); seconds until the node is NotReady, and until every pod it had runs again elsewhere.
Baseline, in the same run: the same number of bare pods created straight through the API (16 at
a time, no controllers), until all are Running. The Deployment's time is reported as a ratio to it.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

import ray

from benchmarks.common import print_table, publish, summary, with_hollow_nodes
from benchmarks.scheduling import bench_pod, create_all, delete_all, wait_for_nodes
from cluster.api import codec, conditions, resources
from cluster.bootstrap.actors import get_actor
from cluster.client.api import ApiClient
from raykube.v1 import apps_pb2, pod_pb2


def bench_deployment(replicas: int) -> apps_pb2.Deployment:
    template = codec.encode(bench_pod("template"))
    return codec.decode({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "bench-deploy"}},
                 "template": {"metadata": {"labels": {"app": "bench-deploy"}}, "spec": template["spec"]}},
    }, apps_pb2.Deployment)  # fmt: skip


class PodClock:
    """When this process first saw each pod of a label, and when it first saw it Running (a watch)."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None
        self.seen: dict[str, float] = {}
        self.running: dict[str, float] = {}
        self.where: dict[str, str] = {}
        self.terminating: set[str] = set()

    def start(self, client: ApiClient, label: str, version: str) -> None:
        self.task = asyncio.create_task(self._watch(client, label, version))

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _watch(self, client: ApiClient, label: str, version: str) -> None:
        async for kind, pod in client.watch(
            resources.PODS, "default", resource_version=version, label_selector=label
        ):
            if not isinstance(pod, pod_pb2.Pod):
                continue
            name, now = pod.metadata.name, time.monotonic()
            self.seen.setdefault(name, now)
            self.where[name] = pod.spec.node_name
            if kind == "DELETED" or pod.metadata.HasField("deletion_timestamp"):
                self.terminating.add(name)
            elif pod.status.phase == "Running":
                self.running.setdefault(name, now)

    def live_running(self) -> list[str]:
        return [n for n in self.running if n not in self.terminating]


async def until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def baseline(client: ApiClient, count: int, timeout: float) -> dict[str, Any]:
    _, version = await client.list(resources.PODS, "default")
    clock = PodClock()
    clock.start(client, "app=bench", version)
    started = time.monotonic()
    await create_all(client, [bench_pod(f"bare-{i:05d}") for i in range(count)], 16, {})
    await until(lambda: len(clock.running) >= count, timeout, "bare pods Running")
    seconds = time.monotonic() - started
    clock.stop()
    print(f"baseline: {count} bare pods Running in {seconds:.1f}s", flush=True)
    return {"seconds": seconds, "timeline": sorted(t - started for t in clock.running.values())}


async def deployment(client: ApiClient, replicas: int, timeout: float) -> tuple[dict[str, Any], PodClock]:
    _, version = await client.list(resources.PODS, "default")
    clock = PodClock()
    clock.start(client, "app=bench-deploy", version)
    started = time.monotonic()
    await client.create(bench_deployment(replicas))
    progress = [0]

    def available() -> bool:
        if len(clock.running) >= progress[0] + 200:
            progress[0] = len(clock.running)
            print(f"  {progress[0]}/{replicas} Running", flush=True)
        return len(clock.running) >= replicas

    await until(available, timeout, "the deployment's pods Running")
    d: Any = await client.get(resources.DEPLOYMENTS, "default", "bench")
    while d.status.available_replicas < replicas:
        await asyncio.sleep(0.1)
        d = await client.get(resources.DEPLOYMENTS, "default", "bench")
    seconds = time.monotonic() - started
    print(f"deployment: {replicas} replicas available in {seconds:.1f}s", flush=True)
    startup = [clock.running[n] - clock.seen[n] for n in clock.running]
    return {
        "seconds": seconds,
        "startup": summary(startup),
        "startup_latencies": sorted(startup),
        "timeline": sorted(t - started for t in clock.running.values()),
    }, clock


async def host_loss(
    client: ApiClient, clock: PodClock, replicas: int, doomed: str, timeout: float
) -> dict[str, Any]:
    lost = {n for n in clock.live_running() if clock.where.get(n) == doomed}
    print(f"host loss: {doomed} runs {len(lost)} of the deployment's pods; killing it", flush=True)
    doomed_actor = get_actor("hollow-doomed")
    assert doomed_actor is not None
    ray.kill(doomed_actor, no_restart=True)
    killed = time.monotonic()

    async def node_not_ready() -> float:
        while True:
            node: Any = await client.get(resources.NODES, "", doomed)
            ready = conditions.find(node.status.conditions, "Ready")
            if ready is not None and ready.status != "True":
                return time.monotonic() - killed
            await asyncio.sleep(0.2)

    not_ready = await asyncio.wait_for(node_not_ready(), timeout)
    print(f"  NodeNotReady after {not_ready:.1f}s", flush=True)

    def replaced() -> bool:
        elsewhere = [n for n in clock.live_running() if clock.where.get(n) != doomed]
        return len(elsewhere) >= replicas

    await until(replaced, timeout, "the lost pods Running elsewhere")
    seconds = time.monotonic() - killed
    print(f"  its {len(lost)} pods Running elsewhere after {seconds:.1f}s", flush=True)
    return {"pods_lost": len(lost), "not_ready_seconds": not_ready, "replaced_seconds": seconds}


async def measure(client: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    await wait_for_nodes(client, args.nodes + 1)
    print(f"{args.nodes + 1} hollow nodes registered", flush=True)
    base = await baseline(client, args.replicas, args.timeout)
    items, _ = await client.list(resources.PODS, "default", label_selector="app=bench")
    await delete_all(client, [p.metadata.name for p in items])
    deployed, clock = await deployment(client, args.replicas, args.timeout)
    loss = await host_loss(client, clock, args.replicas, "doomed-0", args.timeout)
    clock.stop()
    return {
        "nodes": args.nodes + 1,
        "replicas": args.replicas,
        "baseline_bare_pods_seconds": base["seconds"],
        "deployment_available_seconds": deployed["seconds"],
        "ratio_to_baseline": deployed["seconds"] / base["seconds"],
        "pod_startup": deployed["startup"],
        "host_loss": loss,
        "timeline": {"bare pods": base["timeline"], "deployment": deployed["timeline"]},
        "startup_latencies": deployed["startup_latencies"],
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (timeline, cdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, times in result["timeline"].items():
        timeline.plot(times, range(1, len(times) + 1), label=label)
    timeline.set(
        xlabel="seconds since the first create", ylabel="pods Running", title="Pods Running over time"
    )
    timeline.legend()
    values = [v * 1000 for v in result["startup_latencies"]]
    cdf.plot(values, [i / len(values) for i in range(1, len(values) + 1)])
    cdf.axvline(5000, linestyle="--", color="gray", label="SLO: p99 <= 5 s")
    cdf.set(xlabel="pod startup latency (ms)", ylabel="fraction of pods", title="Pod startup latency CDF")
    cdf.legend()
    loss = result["host_loss"]
    seconds, ratio = result["deployment_available_seconds"], result["ratio_to_baseline"]
    title = (
        f"Deployment of {result['replicas']} on {result['nodes']} hollow nodes: available in {seconds:.1f}s"
    )
    fig.suptitle(f"{title} ({ratio:.2f}x bare pods); host loss: replaced in {loss['replaced_seconds']:.0f}s")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report(result: dict[str, Any]) -> None:
    startup = {q: v * 1000 for q, v in result["pod_startup"].items() if q != "count"}
    loss = result["host_loss"]
    print()
    print_table([
        ["measure", "value"],
        ["baseline: bare pods, create -> all Running (s)", f"{result['baseline_bare_pods_seconds']:.1f}"],
        ["deployment: create -> all available (s)", f"{result['deployment_available_seconds']:.1f}"],
        ["ratio to baseline", f"{result['ratio_to_baseline']:.2f}"],
        ["pod startup p50 / p99 (ms; SLO p99 <= 5000)", f"{startup['p50']:.0f} / {startup['p99']:.0f}"],
        [f"host loss ({loss['pods_lost']} pods): NodeNotReady (s)", f"{loss['not_ready_seconds']:.1f}"],
        ["host loss: its pods Running elsewhere (s)", f"{loss['replaced_seconds']:.1f}"],
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    groups = {"hollow-nodes": ("hollow", args.nodes), "hollow-doomed": ("doomed", 1)}
    result = with_hollow_nodes("deployment", groups, lambda client: measure(client, args))
    report(result)
    publish("deployment", result, plot)


if __name__ == "__main__":
    main()
