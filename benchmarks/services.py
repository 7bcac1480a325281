"""Services: how soon a Ready pod gets Service traffic, and how long a proxy sync takes.

    .venv/bin/python -m benchmarks.services [--cycles 20] [--sizes 10,100,1000]

1. Ready -> traffic, on a real `raykube up` (Ray actors: store, API server, scheduler, controller
   manager, kubelet on Podman, proxy on nftables). A Deployment of a web server behind a ClusterIP
   Service is scaled 0 -> 1 -> 0, `--cycles` times. Timestamps, all in this process: the pod first
   seen Ready (a watch), its address first seen ready in the Service's EndpointSlice (a watch), and
   the first answer from it through the ClusterIP (a connection every 5 ms; with no endpoint the
   proxy rejects at once). Reported: Ready -> traffic, split into the EndpointSlice controller's part
   (Ready -> slice) and the proxy's (slice -> traffic). Kubernetes' network programming SLO is the
   reference (p99 <= 30 s), not a baseline of this run.
2. Proxy sync time for 10 / 100 / 1,000 Services x 10 endpoints (benchmarks/proxy_sync.py, in a
   network namespace of its own), next to `nft -f` of the same ruleset measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import TemporaryCluster, measure_on_client, print_table, publish, summary
from cluster.api import codec, conditions, resources
from cluster.client.api import ApiClient
from raykube.v1 import apps_pb2, discovery_pb2, pod_pb2, service_pb2

IMAGE = "localhost/busybox:1.35"
LABEL = "app=svc-bench"


def bench_objects() -> tuple[apps_pb2.Deployment, service_pb2.Service]:
    serve = "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"
    deployment = codec.decode({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "svc-bench"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "svc-bench"}},
                 "template": {"metadata": {"labels": {"app": "svc-bench"}}, "spec": {
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "web", "image": IMAGE, "command": ["sh", "-c", serve],
                                     "ports": [{"containerPort": 8080}],
                                     "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}},
    }, apps_pb2.Deployment)  # fmt: skip
    service = codec.decode({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc-bench"},
        "spec": {"selector": {"app": "svc-bench"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }, service_pb2.Service)  # fmt: skip
    return deployment, service


class Clocks:
    """When this process first saw each pod Ready (by name, with its IP) and each address ready in
    the Service's EndpointSlices."""

    def __init__(self) -> None:
        self.ready: dict[str, tuple[float, str]] = {}
        self.in_slice: dict[str, float] = {}
        self.changed = asyncio.Event()

    async def pods(self, client: ApiClient, version: str) -> None:
        async for _, obj in client.watch(resources.PODS, "default", resource_version=version,
                                         label_selector=LABEL):  # fmt: skip
            if isinstance(obj, pod_pb2.Pod) and obj.metadata.name not in self.ready and \
                    conditions.is_true(obj.status.conditions, "Ready"):  # fmt: skip
                self.ready[obj.metadata.name] = (time.monotonic(), obj.status.pod_ip)
                self.changed.set()

    async def slices(self, client: ApiClient, version: str) -> None:
        async for _, obj in client.watch(resources.ENDPOINTSLICES, "default", resource_version=version,
                                         label_selector="kubernetes.io/service-name=svc-bench"):  # fmt: skip
            if isinstance(obj, discovery_pb2.EndpointSlice):
                for endpoint in obj.endpoints:
                    if endpoint.conditions.ready:
                        for address in endpoint.addresses:
                            self.in_slice.setdefault(address, time.monotonic())
                self.changed.set()


async def first_answer(address: str, timeout: float = 60) -> tuple[float, str]:
    """The first answer through `address`:80 (when, and which pod), trying every 5 ms."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(address, 80), 1)
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            body = await asyncio.wait_for(reader.read(), 1)
            writer.close()
            when = time.monotonic()
            if body.strip():
                return when, body.decode().strip().splitlines()[-1]
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(0.005)
    raise TimeoutError(f"no answer through {address}:80 in {timeout}s")


async def scale(client: ApiClient, replicas: int) -> None:
    def change(deployment: Any) -> None:
        deployment.spec.replicas = replicas

    await client.modify(resources.DEPLOYMENTS, "default", "svc-bench", change)


async def measure_traffic(client: ApiClient, cycles: int) -> dict[str, Any]:
    deployment, service = bench_objects()
    await client.create(deployment)
    cluster_ip = (await client.create(service)).spec.cluster_ip
    _, version = await client.list(resources.PODS, "default")
    clocks = Clocks()
    watches = [asyncio.create_task(clocks.pods(client, version)),
               asyncio.create_task(clocks.slices(client, version))]  # fmt: skip
    to_traffic, to_slice, slice_to_traffic = [], [], []
    try:
        for cycle in range(cycles):
            await scale(client, 1)
            answered, pod = await first_answer(cluster_ip)
            while pod not in clocks.ready or clocks.ready[pod][1] not in clocks.in_slice:
                clocks.changed.clear()
                await asyncio.wait_for(clocks.changed.wait(), 30)
            ready, ip = clocks.ready[pod]
            to_traffic.append(answered - ready)
            to_slice.append(clocks.in_slice[ip] - ready)
            slice_to_traffic.append(answered - clocks.in_slice[ip])
            print(f"  cycle {cycle + 1}/{cycles}: Ready -> traffic {to_traffic[-1] * 1000:.0f} ms "
                  f"(slice {to_slice[-1] * 1000:.0f} ms)", flush=True)  # fmt: skip
            await scale(client, 0)
            while (await client.list(resources.PODS, "default", label_selector=LABEL))[0]:
                await asyncio.sleep(0.2)
    finally:
        for watch in watches:
            watch.cancel()
    return {"ready_to_traffic": to_traffic, "ready_to_slice": to_slice, "slice_to_traffic": slice_to_traffic}


def measure_sync(sizes: list[int]) -> list[dict[str, Any]]:
    """benchmarks.proxy_sync in a fresh network namespace (a child process, waited for)."""
    command = ["unshare", "--net", sys.executable, "-m", "benchmarks.proxy_sync", *map(str, sizes)]
    done = subprocess.run(command, stdout=subprocess.PIPE, check=True, text=True)
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (latency, sync) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = {"Ready -> EndpointSlice": result["samples"]["ready_to_slice"],
              "EndpointSlice -> traffic": result["samples"]["slice_to_traffic"],
              "Ready -> traffic": result["samples"]["ready_to_traffic"]}  # fmt: skip
    latency.boxplot([[v * 1000 for v in values] for values in series.values()], tick_labels=list(series))
    latency.set(
        ylabel="ms", title=f"A Ready pod gets Service traffic ({len(series['Ready -> traffic'])} cycles)"
    )
    sizes = [r["services"] for r in result["sync"]]
    for key, label in (("first_sync_seconds", "proxy: first sync"), ("resync_seconds", "proxy: resync"),
                       ("nft_f_seconds", "nft -f (baseline)")):  # fmt: skip
        sync.plot(sizes, [r[key] * 1000 for r in result["sync"]], marker="o", label=label)
    sync.set(xscale="log", yscale="log", xlabel="Services (x 10 endpoints)", ylabel="ms",
             title="One whole-table transaction")  # fmt: skip
    sync.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--sizes", default="10,100,1000", help="numbers of Services for the sync timing")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(
        f"proxy sync for {sizes} Services x 10 endpoints, in a network namespace of its own ...", flush=True
    )
    sync = measure_sync(sizes)
    with TemporaryCluster("services") as cluster:
        samples = measure_on_client(cluster, lambda client: measure_traffic(client, args.cycles))
    stats = {key: summary(values) for key, values in samples.items()}
    result = {"cycles": args.cycles, "stats": stats, "samples": samples, "sync": sync,
              "proxy_share_of_ready_to_traffic_p50": stats["slice_to_traffic"]["p50"]
              / stats["ready_to_traffic"]["p50"]}  # fmt: skip
    print()
    print_table([["Ready -> Service traffic", "p50 ms", "p99 ms", "max ms"]] + [
        [label, *(f"{stats[key][q] * 1000:.0f}" for q in ("p50", "p99", "max"))]
        for key, label in (("ready_to_slice", "Ready -> in the EndpointSlice (controller)"),
                           ("slice_to_traffic", "EndpointSlice -> first answer (proxy)"),
                           ("ready_to_traffic", "Ready -> first answer through the ClusterIP"))
    ])  # fmt: skip
    print()
    print_table([["Services x 10 endpoints", "rules", "first sync ms", "resync ms", "nft -f ms (baseline)",
                  "first sync / nft -f", "resync / nft -f"]] + [
        [str(r["services"]), str(r["rules"]), f"{r['first_sync_seconds'] * 1000:.1f}",
         f"{r['resync_seconds'] * 1000:.1f}", f"{r['nft_f_seconds'] * 1000:.1f}",
         f"{r['first_sync_seconds'] / r['nft_f_seconds']:.2f}",
         f"{r['resync_seconds'] / r['nft_f_seconds']:.2f}"]
        for r in sync
    ])  # fmt: skip
    publish("services", result, plot)


if __name__ == "__main__":
    main()
