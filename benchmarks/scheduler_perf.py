"""Scheduling throughput as kube-scheduler's scheduler_perf measures it, on a real local cluster.

    .venv/bin/python -m benchmarks.scheduler_perf [--workload SchedulingBasic ...] [--nodes N --pods K]
                                                  [--profile]

Each workload gets a throwaway `raykube up` (store replicas, API server, schedulers, controller
managers, all over TLS) and then, as scheduler_perf does:
  1. N nodes registered: hollow nodes that only exist, as scheduler_perf's (no kubelet; they
     renew their leases every 5 min, the node monitor's grace being 20 min);
  2. the initial pods created and scheduled;
  3. the schedulers stopped, and the K measured pods created through the API into the store;
  4. the schedulers started again; a watch in this process timestamps every bind.
Throughput is sampled every second from the first bind of a measured pod to the last
(SchedulingThroughput: the average, p50, p90 and p99 of the per-second samples) and printed next
to kube-scheduler's CI floor for the same workload (the `threshold` of its performance-config).
Baseline in the same run: the API's own create rate for the measured pods (step 3), since every
bind is one more write through the same API server and store. At the end of each workload, the
resident memory of every control-plane process, and how many of the measured pods' Scheduled
Events were written by the time the last was bound (the scheduler's recorder writes them one at
a time and drops them past a thousand waiting, as client-go's does: at hundreds of binds a
second most wait or are dropped). `--profile` records the scheduler leader and the API server with
py-spy during step 4 and saves flame graphs next to the results.

Results: benchmarks/results/scheduler_perf.json (a `workloads` list) and scheduler_perf.png.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agents.hollownode.hollow import HOLLOW_LABEL
from benchmarks.common import RESULTS, TemporaryCluster, percentile, print_table, save, start_hollow_nodes
from cluster.api import codec, resources
from cluster.client.api import ApiClient
from raykube.v1 import namespace_pb2, node_pb2, pod_pb2, scheduling_pb2, service_pb2

NODE_CAPACITY = {"pods": "110", "cpu": "4", "memory": "32Gi"}  # scheduler_perf's node-default.yaml
REQUESTS = {"cpu": "100m", "memory": "500Mi"}  # its pod-default.yaml
INIT_NAMESPACE, MEASURED_NAMESPACE = "sched-0", "sched-1"
# scheduler_perf's nodes send no heartbeats at all; ours renew their leases every 5 min (17 writes/s
# at 5,000 nodes) and the node monitor waits 20 min before it calls one NotReady.
GRACE_PERIOD, LEASE_PERIOD = 1200.0, 300.0
CONCURRENCY = 32  # creates in flight
HIGH_PRIORITY = "high"  # the PriorityClass (value 10) of pod-high-priority.yaml


def anti_affinity() -> dict[str, Any]:
    """templates/pod-with-pod-anti-affinity.yaml: at most one such pod per node."""
    term = {"labelSelector": {"matchLabels": {"color": "green"}}, "topologyKey": "kubernetes.io/hostname",
            "namespaces": [INIT_NAMESPACE, MEASURED_NAMESPACE]}  # fmt: skip
    required = {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    return {"labels": {"color": "green"}, "affinity": {"podAntiAffinity": required}}


def node_affinity() -> dict[str, Any]:
    """templates/pod-with-node-affinity.yaml: nodes in zone1 or zone2."""
    expression = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone1", "zone2"]}
    required = {"nodeSelectorTerms": [{"matchExpressions": [expression]}]}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": required}}}


def topology_spreading() -> dict[str, Any]:
    """templates/pod-with-topology-spreading.yaml: within 5 pods of each other per zone."""
    selector = {"matchLabels": {"color": "blue"}}
    constraint = {"maxSkew": 5, "topologyKey": "topology.kubernetes.io/zone",
                  "whenUnsatisfiable": "DoNotSchedule", "labelSelector": selector}  # fmt: skip
    return {"labels": {"color": "blue"}, "topologySpreadConstraints": [constraint]}


def low_priority() -> dict[str, Any]:
    """templates/pod-low-priority.yaml: four fill 3.6 of a node's 4 cpus; gone at once when evicted."""
    return {"requests": {"cpu": "900m", "memory": "500Mi"}, "terminationGracePeriodSeconds": 0}


def high_priority() -> dict[str, Any]:
    """templates/pod-high-priority.yaml: 3 cpus at priority 10, room only by preempting."""
    return {"requests": {"cpu": "3", "memory": "500Mi"}, "priorityClassName": HIGH_PRIORITY}


def node_inclusion_policy() -> dict[str, Any]:
    """templates/pod-with-node-inclusion-policy.yaml: one per untainted node."""
    constraint = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
                  "labelSelector": {"matchLabels": {"foo": "bar"}}, "nodeAffinityPolicy": "Honor",
                  "nodeTaintsPolicy": "Honor"}  # fmt: skip
    return {"labels": {"foo": "bar"}, "topologySpreadConstraints": [constraint]}


@dataclass(frozen=True)
class NodeGroup:
    prefix: str
    share: float  # of the workload's nodes
    options: dict[str, Any] = field(default_factory=dict)  # HollowNodesSettings fields


@dataclass(frozen=True)
class Workload:
    case: str  # scheduler_perf's test case name
    nodes: int
    init_pods: int
    measured_pods: int
    threshold: float | None = None  # kube-scheduler's CI floor, pods/s (SchedulingThroughput average)
    pod: Callable[[], dict[str, Any]] = dict  # labels, requests and spec fields of every pod
    groups: tuple[NodeGroup, ...] = (NodeGroup("node", 1.0),)
    churn: bool = False  # a node, an unschedulable pod and a Service recreated every second
    suffix: str = ""  # scheduler_perf's workload name when it is not "<n>Nodes_<k>Pods"
    init_pod: Callable[[], dict[str, Any]] | None = None  # the initial pods' template, if not `pod`

    @property
    def name(self) -> str:
        return f"{self.case}/{self.suffix or f'{self.nodes}Nodes_{self.measured_pods}Pods'}"

    def resized(self, nodes: int | None, pods: int | None) -> Workload:
        """The same workload at another size; kube-scheduler's threshold no longer applies."""
        nodes, pods = nodes or self.nodes, pods or self.measured_pods
        if (nodes, pods) == (self.nodes, self.measured_pods):
            return self
        init = self.init_pods * nodes // self.nodes
        return replace(self, nodes=nodes, init_pods=init, measured_pods=pods, threshold=None, suffix="")


# Thresholds: kubernetes test/integration/scheduler_perf/{misc,affinity,topology_spreading}/
# performance-config.yaml.
WORKLOADS = (
    Workload("SchedulingBasic", 500, 500, 1000, suffix="500Nodes"),
    Workload("SchedulingBasic", 5000, 1000, 10000, 680),
    Workload("SchedulingPodAntiAffinity", 5000, 1000, 2000, 60, anti_affinity),
    Workload("SchedulingNodeAffinity", 5000, 5000, 10000, 220, node_affinity,
             (NodeGroup("node", 1.0, {"zones": ("zone1",)}),)),
    Workload("TopologySpreading", 5000, 5000, 5000, 460, topology_spreading,
             (NodeGroup("node", 1.0, {"zones": ("moon-1", "moon-2", "moon-3")}),)),
    Workload("SchedulingWithNodeInclusionPolicy", 5000, 0, 4000, 270, node_inclusion_policy,
             (NodeGroup("taint-node", 0.2, {"taints": ("foo:NoSchedule",)}), NodeGroup("node", 0.8)),
             suffix="5000Nodes"),
    Workload("SchedulingWithMixedChurn", 5000, 0, 10000, 710, churn=True),
    Workload("PreemptionBasic", 500, 2000, 500, pod=high_priority, init_pod=low_priority, suffix="500Nodes"),
)  # fmt: skip


def pod(name: str, namespace: str, template: dict[str, Any], **extra: Any) -> pod_pb2.Pod:
    """A pod of `template`: its labels, requests (limits equal) and any other spec fields."""
    requests = template.get("requests", REQUESTS)
    spec = {"containers": [{"name": "pause", "image": "registry.k8s.io/pause:3.10",
                            "resources": {"requests": requests, "limits": requests}}], **extra}  # fmt: skip
    spec.update({key: value for key, value in template.items() if key not in ("labels", "requests")})
    metadata = {"name": name, "namespace": namespace, "labels": template.get("labels", {})}
    return codec.decode({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}, pod_pb2.Pod)


def progress(label: str, done: int, total: int, started: float) -> None:
    if done == total or done % max(total // 10, 1) == 0:
        rate = done / max(time.monotonic() - started, 1e-9)
        print(f"  {label}: {done}/{total} ({rate:.0f}/s)", flush=True)


async def create_all(client: ApiClient, objects: list[Any], label: str) -> float:
    """Create every object with CONCURRENCY requests in flight; returns the elapsed seconds."""
    pending = iter(objects)
    done = 0
    started = time.monotonic()

    async def worker() -> None:
        nonlocal done
        for obj in pending:
            await client.create(obj)
            done += 1
            progress(label, done, len(objects), started)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return time.monotonic() - started


async def wait_until(check: Callable[[], Any], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        await asyncio.sleep(1)


async def cordon(client: ApiClient, name: str) -> None:
    """The cluster's one real node takes no benchmark pod: its kubelet would run it."""
    node = await client.get(resources.NODES, "", name)
    node.spec.unschedulable = True
    await client.update(node)


class Binds:
    """A watch on the measured namespace: when each pod was first seen bound."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.all_bound = asyncio.Event()

    async def watch(self, client: ApiClient, version: str, expected: int) -> None:
        started = time.monotonic()
        async for _, obj in client.watch(resources.PODS, MEASURED_NAMESPACE, resource_version=version):
            if isinstance(obj, pod_pb2.Pod) and obj.spec.node_name and obj.metadata.name not in self.times:
                self.times[obj.metadata.name] = time.monotonic()
                progress("bound", len(self.times), expected, min(self.times.values(), default=started))
                if len(self.times) >= expected:
                    self.all_bound.set()


def throughput_samples(times: list[float]) -> list[float]:
    """Binds in each full one-second window from the first bind. A last window shorter than a
    second is not a sample, as in scheduler_perf's throughputCollector, whose ticker never
    records the interval that the workload's end cuts short (counting it as a whole second
    would understate the rate); a run shorter than a second is one sample, scaled to a rate."""
    if not times:
        return []
    first, last = min(times), max(times)
    if last - first < 1.0:
        return [len(times) / max(last - first, 1e-3)] if len(times) > 1 else [float(len(times))]
    counts = [0] * int(last - first)
    for t in times:
        window = int(t - first)
        if window < len(counts):
            counts[window] += 1
    return [float(c) for c in counts]


class Churn:
    """SchedulingWithMixedChurn's churn: every second a Node (room for no pod), a pod nothing can
    hold and a Service are created, and the previous second's deleted (the scheduler sees node,
    pod and service events while it works)."""

    def __init__(self, client: ApiClient):
        self._client = client
        self.rounds = 0

    async def run(self) -> None:
        previous: list[tuple[resources.Resource[Any], str, str]] = []
        while True:
            name = f"churn-{self.rounds}"
            node = node_pb2.Node(metadata={"name": name})
            node.status.capacity["pods"] = node.status.allocatable["pods"] = "0"
            big = pod(name, MEASURED_NAMESPACE, {}, nodeSelector={"churn": "none"})
            service = service_pb2.Service(metadata={"name": name, "namespace": INIT_NAMESPACE})
            service.spec.selector["app"] = "foo"
            service.spec.ports.add(port=8080)
            for obj in (node, big, service):
                await self._client.create(obj)
            for resource, namespace, old in previous:
                await self._client.delete(resource, namespace, old)
            previous = [(resources.NODES, "", name), (resources.PODS, MEASURED_NAMESPACE, name),
                        (resources.SERVICES, INIT_NAMESPACE, name)]  # fmt: skip
            self.rounds += 1
            await asyncio.sleep(1)


def stop_schedulers() -> list[str]:
    """Stop every scheduler actor for good (the leader gives its Lease up first); `up` starts
    them again."""
    import ray

    from cluster.bootstrap.actors import NAMESPACE, get_actor

    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
             if a["namespace"] == NAMESPACE and a["name"].startswith("scheduler-")]  # fmt: skip
    for name in names:
        actor = get_actor(name)
        if actor is not None:
            ray.get(actor.stop.remote(), timeout=60)
            ray.kill(actor, no_restart=True)
    return names


def component_pids() -> dict[str, int]:
    """Every raykube actor's process (name -> pid)."""
    import ray

    from cluster.bootstrap.actors import NAMESPACE, get_actor

    pids = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        actor = get_actor(entry["name"]) if entry["namespace"] == NAMESPACE else None
        if actor is not None:
            pids[entry["name"]] = ray.get(actor.info.remote(), timeout=60)["pid"]
    return pids


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/<pid>/stat, in clock ticks)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ray_daemons() -> dict[str, int]:
    """Ray's own processes on this machine (GCS, raylet, ...): name -> pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                name = (entry / "comm").read_text().strip()
                if name in ("gcs_server", "raylet"):
                    found[f"ray {name}"] = int(entry.name)
    return found


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


CONTROL_PLANE = ("store-", "apiserver-", "scheduler-", "controller-manager-")


def memory() -> dict[str, float]:
    """Resident MiB of each control-plane process (the hollow nodes, kubelet and proxy stand for
    the nodes, and are left out)."""
    return {name: resident_mib(pid) for name, pid in sorted(component_pids().items())
            if name.startswith(CONTROL_PLANE)}  # fmt: skip


@contextlib.contextmanager
def profiled(pids: dict[str, int], name: str) -> Iterator[None]:
    """py-spy record the schedulers, the first API server and store replica (of `pids`) while the
    block runs: flame graphs of where their time goes."""
    slug = name.replace("/", "_")
    recorders = []
    for component in ("apiserver-0", "scheduler-0", "scheduler-1", "store-0"):
        if component in pids:
            out = RESULTS / f"scheduler_perf-{slug}-{component}.svg"
            command = [str(Path(sys.executable).with_name("py-spy")), "record", "--nonblocking",
                       "--rate", "50", "--pid", str(pids[component]), "--output", str(out)]  # fmt: skip
            recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(2)  # SIGINT: py-spy writes the flame graph and exits
        for recorder in recorders:
            recorder.wait(60)


@contextlib.asynccontextmanager
async def background(coroutine: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(coroutine)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_workload(cluster: TemporaryCluster, client: ApiClient, workload: Workload,
                       args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    await cordon(client, cluster.node_name)
    for namespace in (INIT_NAMESPACE, MEASURED_NAMESPACE):
        await client.create(namespace_pb2.Namespace(metadata={"name": namespace}))
    await client.create(scheduling_pb2.PriorityClass(metadata={"name": HIGH_PRIORITY}, value=10))
    started = time.monotonic()
    await wait_until(lambda: _registered(client, workload.nodes), "nodes registered", args.timeout)
    print(f"  {workload.nodes} nodes registered in {time.monotonic() - started:.1f}s", flush=True)

    template = workload.pod()
    if workload.init_pods:
        init_template = (workload.init_pod or workload.pod)()
        init = [pod(f"init-{i}", INIT_NAMESPACE, init_template) for i in range(workload.init_pods)]
        await create_all(client, init, "initial pods created")
        await wait_until(lambda: _bound(client, INIT_NAMESPACE, workload.init_pods), "initial pods bound",
                         args.timeout)  # fmt: skip

    stopped = await asyncio.to_thread(stop_schedulers)
    print(f"  stopped {', '.join(stopped)}", flush=True)
    measured = [pod(f"pod-{i}", MEASURED_NAMESPACE, template) for i in range(workload.measured_pods)]
    create_seconds = await create_all(client, measured, "measured pods created")
    _, version = await client.list(resources.PODS, MEASURED_NAMESPACE)
    binds = Binds()
    churn = Churn(client)
    async with background(binds.watch(client, version, workload.measured_pods)):
        print("  starting the schedulers again ...", flush=True)
        async with background(churn.run()) if workload.churn else contextlib.nullcontext():
            await asyncio.to_thread(cluster.up)
            pids = {**await asyncio.to_thread(component_pids), **ray_daemons(), "benchmark": os.getpid()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            with profiled(pids if args.profile else {}, workload.name):
                await asyncio.wait_for(binds.all_bound.wait(), args.timeout)
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
    samples = throughput_samples(list(binds.times.values()))
    events, _ = await client.list(resources.EVENTS, MEASURED_NAMESPACE, field_selector="reason=Scheduled")
    rss = await asyncio.to_thread(memory)
    first = min(binds.times.values())
    return {
        "name": workload.name,
        "nodes": workload.nodes,
        "init_pods": workload.init_pods,
        "pods": workload.measured_pods,
        "threshold": workload.threshold,
        "throughput_avg": sum(samples) / len(samples),
        "throughput_p50": percentile(samples, 50),
        "throughput_p90": percentile(samples, 90),
        "throughput_p99": percentile(samples, 99),
        "samples": samples,
        "scheduling_seconds": max(binds.times.values()) - first,
        "baseline_create_pods_per_second": workload.measured_pods / create_seconds,
        "churn_rounds": churn.rounds,
        "scheduled_events": len(events),  # written when the last measured pod was bound
        # CPU milliseconds per measured pod, by process, while the schedulers worked (from the
        # schedulers' restart: the first seconds of their start-up are in it too)
        "cpu_ms_per_pod": {
            name: 1000 * seconds / workload.measured_pods for name, seconds in sorted(cpu.items())
        },
        "memory_mib": rss,
        "control_plane_mib": sum(rss.values()),
    }


async def _registered(client: ApiClient, n: int) -> bool:
    nodes, _ = await client.list(resources.NODES, label_selector=f"{HOLLOW_LABEL}=true")
    return len(nodes) >= n


async def _bound(client: ApiClient, namespace: str, n: int) -> bool:
    pods, _ = await client.list(resources.PODS, namespace)
    return sum(1 for p in pods if p.spec.node_name) >= n


def run(workload: Workload, args: argparse.Namespace) -> dict[str, Any]:
    import ray

    from cluster.bootstrap.actors import connect_ray

    print(f"\n{workload.name}: {workload.nodes} nodes, {workload.init_pods} initial pods, "
          f"{workload.measured_pods} measured pods", flush=True)  # fmt: skip
    with TemporaryCluster("schedperf", f"--node-monitor-grace-period={GRACE_PERIOD:.0f}s") as cluster:
        connect_ray(cluster.home)
        try:
            start_hollow_nodes(cluster, {
                f"hollow-{group.prefix}": {
                    "prefix": group.prefix, "count": round(workload.nodes * group.share),
                    "capacity": NODE_CAPACITY, "run_pods": False, "lease_period": LEASE_PERIOD,
                    **group.options,
                } for group in workload.groups
            })  # fmt: skip

            async def measure() -> dict[str, Any]:
                async with cluster.client() as client:
                    return await run_workload(cluster, client, workload, args)

            return asyncio.run(measure())
        finally:
            ray.shutdown()


def report(results: list[dict[str, Any]]) -> None:
    print()
    print_table([
        ["workload", "avg", "p50", "p90", "p99", "kube-scheduler floor", "ratio", "API creates/s",
         "control plane MiB", "Scheduled events"],
        *([r["name"], *(f"{r[f'throughput_{q}']:.0f}" for q in ("avg", "p50", "p90", "p99")),
           f"{r['threshold']:.0f}" if r["threshold"] else "-",
           f"{r['throughput_avg'] / r['threshold']:.2f}" if r["threshold"] else "-",
           f"{r['baseline_create_pods_per_second']:.0f}", f"{r['control_plane_mib']:.0f}",
           f"{r['scheduled_events']}/{r['pods']}"] for r in results),
    ])  # fmt: skip
    print("\nthroughput: pods bound per second, sampled every second; ratio: avg / kube-scheduler's floor;")
    print(
        "Scheduled events: written for the measured pods by the time the last was bound (the rest wait in the"
    )
    print("scheduler's recorder, which writes one at a time, or were dropped past a thousand waiting)")
    kinds = sorted({_kind(name) for r in results for name in r["cpu_ms_per_pod"]})
    print("\nCPU milliseconds per measured pod, by process kind, while the schedulers worked (2 cores):")
    print_table([
        ["workload", *kinds, "total"],
        *([r["name"], *(f"{_by_kind(r)[k]:.2f}" for k in kinds), f"{sum(r['cpu_ms_per_pod'].values()):.2f}"]
          for r in results),
    ])  # fmt: skip


def _kind(name: str) -> str:
    """store-0 -> store; kubelet-<host> -> kubelet; hollow-node -> hollow nodes."""
    for kind in ("kubelet", "proxy", "hollow"):
        if name.startswith(kind):
            return kind
    return name.rstrip("0123456789").rstrip("-")


def _by_kind(result: dict[str, Any]) -> dict[str, float]:
    totals: dict[str, float] = collections.defaultdict(float)
    for name, ms in result["cpu_ms_per_pod"].items():
        totals[_kind(name)] += ms
    return totals


def plot(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5))
    for r in results:
        ax.plot(
            range(1, len(r["samples"]) + 1),
            r["samples"],
            label=f"{r['name']} (avg {r['throughput_avg']:.0f})",
        )
    ax.set(xlabel="seconds since the first bind", ylabel="pods bound per second",
           title="scheduler_perf: scheduling throughput over time")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", action="append", default=[],
                        help="a test case or workload name (repeatable; default: all)")  # fmt: skip
    parser.add_argument("--nodes", type=int, help="override every workload's node count")
    parser.add_argument("--pods", type=int, help="override every workload's measured pod count")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per phase")
    parser.add_argument("--profile", action="store_true", help="py-spy flame graphs of scheduler and API")
    args = parser.parse_args()
    chosen = [w.resized(args.nodes, args.pods) for w in WORKLOADS
              if not args.workload or any(w.name.startswith(x) for x in args.workload)]  # fmt: skip
    if not chosen:
        parser.error(f"no workload matches {args.workload}; known: {', '.join(w.name for w in WORKLOADS)}")
    results = [run(w, args) for w in chosen]
    report(results)
    path = save("scheduler_perf", {"workloads": results})
    picture = RESULTS / "scheduler_perf.png"
    plot(results, picture)
    print(f"\nsaved {path} and {picture}")


if __name__ == "__main__":
    main()
