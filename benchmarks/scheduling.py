"""Scheduling throughput with hollow nodes (kubemark-style), on a real local cluster.

    .venv/bin/python -m benchmarks.scheduling [--nodes 100] [--pods 1000] [--concurrency 16]

A real `raykube up` (store, API server, scheduler as Ray actors) plus one Ray actor of hollow
nodes: Nodes whose kubelet runs no containers but reports bound pods Running. Pods are submitted
over gRPC; a watch in this process timestamps when each is bound and Running.

Baseline, in the same run: the same number of pods created with a schedulerName nobody serves,
i.e. the API server's and store's own create throughput. The scheduling result is reported as a
ratio to it (1.0 would mean scheduling adds nothing to the cost of accepting a pod).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from agents.hollownode.hollow import HOLLOW_LABEL
from benchmarks.common import print_table, publish, summary, with_hollow_nodes
from cluster.api import codec, resources, wellknown
from cluster.client.api import ApiClient
from raykube.v1 import pod_pb2


def bench_pod(name: str, scheduler: str = "default-scheduler") -> pod_pb2.Pod:
    return codec.decode({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "bench"}},
        "spec": {
            "schedulerName": scheduler,
            "nodeSelector": {HOLLOW_LABEL: "true"},
            "containers": [{"name": "c", "image": "localhost/busybox:1.35",
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
        },
    }, pod_pb2.Pod)  # fmt: skip


async def create_all(
    client: ApiClient, pods: list[pod_pb2.Pod], concurrency: int, sent: dict[str, float]
) -> float:
    """Create every pod with `concurrency` requests in flight; returns the elapsed seconds."""
    queue: asyncio.Queue[pod_pb2.Pod] = asyncio.Queue()
    for pod in pods:
        queue.put_nowait(pod)

    async def worker() -> None:
        while not queue.empty():
            pod = queue.get_nowait()
            sent[pod.metadata.name] = time.monotonic()
            await client.create(pod)

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.monotonic() - started


async def wait_for_nodes(client: ApiClient, count: int, timeout: float = 120) -> None:
    """Until `count` hollow nodes are registered and each has its heartbeat Lease: the nodes start
    their renewals spread over a period, and a first renewal (a read, then a create) is startup
    work that should not land in a measurement."""
    deadline = time.monotonic() + timeout
    while True:
        nodes, _ = await client.list(resources.NODES, label_selector=f"{HOLLOW_LABEL}=true")
        leases, _ = await client.list(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE)
        leased = {lease.metadata.name for lease in leases}
        ready = sum(node.metadata.name in leased for node in nodes)
        if ready >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {ready}/{count} hollow nodes registered with a lease")
        await asyncio.sleep(0.5)


async def delete_all(client: ApiClient, names: list[str]) -> None:
    for start in range(0, len(names), 32):
        await asyncio.gather(*(client.delete(resources.PODS, "default", n, grace_period_seconds=0)
                               for n in names[start:start + 32]))  # fmt: skip


async def measure(client: ApiClient, args: argparse.Namespace) -> dict[str, Any]:
    await wait_for_nodes(client, args.nodes)
    print(f"{args.nodes} hollow nodes registered", flush=True)

    # Baseline: the API's own create rate (no scheduler serves "nobody").
    baseline_pods = [bench_pod(f"baseline-{i}", scheduler="nobody") for i in range(args.pods)]
    baseline_seconds = await create_all(client, baseline_pods, args.concurrency, {})
    baseline_rate = args.pods / baseline_seconds
    print(
        f"baseline: created {args.pods} unscheduled pods in {baseline_seconds:.2f}s ({baseline_rate:.0f}/s)",
        flush=True,
    )
    await delete_all(client, [p.metadata.name for p in baseline_pods])

    _, version = await client.list(resources.PODS)
    sent: dict[str, float] = {}
    bound: dict[str, float] = {}
    running: dict[str, float] = {}
    done = asyncio.Event()

    async def watch() -> None:
        async for _, obj in client.watch(
            resources.PODS, resource_version=version, label_selector="app=bench"
        ):
            name, now = obj.metadata.name, time.monotonic()
            if not isinstance(obj, pod_pb2.Pod) or not name.startswith("pod-"):
                continue
            if obj.spec.node_name and name not in bound:
                bound[name] = now
                if len(bound) % 100 == 0:
                    print(f"  bound {len(bound)}/{args.pods}", flush=True)
            if obj.status.phase == "Running" and name not in running:
                running[name] = now
                if len(running) == args.pods:
                    done.set()

    watcher = asyncio.create_task(watch())
    pods = [bench_pod(f"pod-{i:05d}") for i in range(args.pods)]
    create_seconds = await create_all(client, pods, args.concurrency, sent)
    await asyncio.wait_for(done.wait(), args.timeout)
    watcher.cancel()
    first = min(sent.values())
    bound_seconds = max(bound.values()) - first
    running_seconds = max(running.values()) - first
    to_bound = [bound[n] - sent[n] for n in sent]
    to_running = [running[n] - sent[n] for n in sent]
    return {
        "nodes": args.nodes,
        "pods": args.pods,
        "concurrency": args.concurrency,
        "baseline_create_seconds": baseline_seconds,
        "baseline_create_pods_per_second": baseline_rate,
        "create_seconds": create_seconds,
        "create_to_bound_seconds": bound_seconds,
        "scheduling_pods_per_second": args.pods / bound_seconds,
        "ratio_to_baseline": (args.pods / bound_seconds) / baseline_rate,
        "create_to_running_seconds": running_seconds,
        "running_pods_per_second": args.pods / running_seconds,
        "create_to_bound": summary(to_bound),
        "create_to_running": summary(to_running),
        "timeline": {
            "sent": sorted(t - first for t in sent.values()),
            "bound": sorted(t - first for t in bound.values()),
            "running": sorted(t - first for t in running.values()),
        },
        "latencies": {"bound": sorted(to_bound), "running": sorted(to_running)},
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (timeline, cdf) = plt.subplots(1, 2, figsize=(12, 4.5))
    for key, label in (("sent", "created"), ("bound", "bound"), ("running", "Running")):
        times = result["timeline"][key]
        timeline.plot(times, range(1, len(times) + 1), label=label)
    timeline.set(xlabel="seconds since the first create", ylabel="pods", title="Pods over time")
    timeline.legend()
    for key, label in (("bound", "create -> bound"), ("running", "create -> Running")):
        values = [v * 1000 for v in result["latencies"][key]]
        cdf.plot(values, [i / len(values) for i in range(1, len(values) + 1)], label=label)
    cdf.set(xlabel="latency (ms)", ylabel="fraction of pods", title="Latency CDF")
    cdf.legend()
    fig.suptitle(f"{result['pods']} pods onto {result['nodes']} hollow nodes: "
                 f"{result['scheduling_pods_per_second']:.0f} pods/s "
                 f"({result['ratio_to_baseline']:.2f}x the API's create rate)")  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report(result: dict[str, Any]) -> None:
    ms = {
        k: {q: v * 1000 for q, v in result[k].items() if q != "count"}
        for k in ("create_to_bound", "create_to_running")
    }
    print()
    print_table([
        ["measure", "value"],
        ["baseline: API create rate (pods/s)", f"{result['baseline_create_pods_per_second']:.0f}"],
        ["scheduling: create->bound (pods/s)", f"{result['scheduling_pods_per_second']:.0f}"],
        ["ratio to baseline", f"{result['ratio_to_baseline']:.2f}"],
        ["end to end: create->Running (pods/s)", f"{result['running_pods_per_second']:.0f}"],
        *([f"{key.replace('_', ' ')} p50 / p99 (ms)", f"{ms[key]['p50']:.0f} / {ms[key]['p99']:.0f}"]
          for key in ("create_to_bound", "create_to_running")),
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    result = with_hollow_nodes("scheduling", {"hollow-nodes": ("hollow", args.nodes)},
                               lambda client: measure(client, args))  # fmt: skip
    report(result)
    publish("scheduling", result, plot)


if __name__ == "__main__":
    main()
