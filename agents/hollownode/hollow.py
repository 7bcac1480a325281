"""Hollow nodes, as Kubernetes' kubemark does: registered Nodes whose "kubelet" runs nothing.

Each hollow node registers a Node with the capacity it is given and watches the pods bound to it,
like a kubelet (one watch per node, so the API server's fan-out is exercised as with real
kubelets). A bound pod is reported Running at once (phase, podIP, Ready, a running status per
container); a terminating pod is deleted for good, as a kubelet does after stopping containers.
Each renews its node Lease every 10 s, so the node lifecycle controller sees it alive. The whole
control plane (store, API server, scheduler, controllers) is real; only the containers are absent.

With `run_pods=False` the nodes only exist, as in kube-scheduler's scheduler_perf (no kubelet at
all): no watch per node, bound pods stay as the scheduler left them, so thousands of nodes cost
the API server nothing but their lease renewals (whose period a benchmark may lengthen, together
with the node monitor's grace period).
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf.timestamp_pb2 import Timestamp

from agents.kubelet.node_lease import RENEW_PERIOD, NodeLease
from cluster.api import resources
from cluster.api.conditions import set_condition
from cluster.client.api import ApiClient
from cluster.errors import AlreadyExists, ApiError, Conflict, NotFound
from cluster.supervision import run_forever
from raykube.v1 import node_pb2, pod_pb2

log = logging.getLogger(__name__)
HOLLOW_LABEL = "raykube.io/hollow"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGISTER_CONCURRENCY = 64  # node creations in flight (thousands at once would only queue up)


@dataclass(frozen=True)
class NodeShape:
    """What the nodes of a hollow group look like, besides their names."""

    capacity: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)  # on every node
    zones: tuple[str, ...] = ()  # node i gets topology.kubernetes.io/zone=zones[i mod len(zones)]
    taints: tuple[str, ...] = ()  # "key=value:Effect" on every node


def hollow_node(name: str, index: int, shape: NodeShape, now: Timestamp) -> node_pb2.Node:
    node = node_pb2.Node(api_version="v1", kind="Node")
    node.metadata.name = name
    node.metadata.labels.update(shape.labels)
    node.metadata.labels.update(
        {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", HOLLOW_LABEL: "true"}
    )
    if shape.zones:
        node.metadata.labels[ZONE_LABEL] = shape.zones[index % len(shape.zones)]
    for taint in shape.taints:
        key_value, _, effect = taint.partition(":")
        key, _, value = key_value.partition("=")
        node.spec.taints.add(key=key, value=value, effect=effect)
    node.status.capacity.update(shape.capacity)
    node.status.allocatable.update(shape.capacity)
    ready = set_condition(node.status.conditions, "Ready", "True", now, reason="KubeletReady",
                          message="hollow kubelet is posting ready status")  # fmt: skip
    ready.last_heartbeat_time.CopyFrom(now)
    node.status.addresses.add(type="Hostname", address=name)
    node.status.node_info.kubelet_version = "raykube-hollow"
    return node


def running_status(pod: pod_pb2.Pod, ip: str, now: Timestamp) -> pod_pb2.PodStatus:
    status = pod_pb2.PodStatus()
    status.CopyFrom(pod.status)
    status.phase = "Running"
    status.pod_ip = ip
    del status.pod_ips[:]
    status.pod_ips.add(ip=ip)
    status.start_time.CopyFrom(now)
    del status.container_statuses[:]
    for container in pod.spec.containers:
        cs = status.container_statuses.add(
            name=container.name, image=container.image, ready=True, started=True
        )
        cs.state.running.started_at.CopyFrom(now)
    for kind in ("Initialized", "ContainersReady", "Ready"):
        set_condition(status.conditions, kind, "True", now)
    return status


class HollowNodes:
    """`names` hollow nodes sharing one API client; `run()` until cancelled."""

    def __init__(
        self,
        client: ApiClient,
        names: list[str],
        shape: NodeShape,
        *,
        run_pods: bool = True,
        lease_period: float = RENEW_PERIOD,
    ):
        self._client = client
        self._names = names
        self._shape = shape
        self._run_pods = run_pods
        self._lease_period = lease_period
        self._registering = asyncio.Semaphore(REGISTER_CONCURRENCY)
        self._ips = (str(ip) for ip in itertools.islice(ipaddress.ip_network("10.244.0.0/16").hosts(), 60000))
        self.running = 0  # pods reported Running, for progress reports

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            for i, name in enumerate(self._names):
                run_forever(tasks, f"hollow node {name}", self._node(i, name))

    async def _node(self, index: int, name: str) -> None:
        async with self._registering:
            await self._register(index, name)
        async with asyncio.TaskGroup() as tasks:
            # Renewals spread over the period, each on its own (a slow API server delays one
            # renewal, not all of them in turn).
            offset = self._lease_period * index / len(self._names)
            run_forever(tasks, f"hollow node {name} lease", self._heartbeat(name, offset))
            if self._run_pods:
                run_forever(tasks, f"hollow node {name} pods", self._kubelet(name))

    async def _heartbeat(self, name: str, offset: float) -> None:
        await asyncio.sleep(offset)
        await NodeLease(self._client, name, period=self._lease_period).run()

    async def _register(self, index: int, name: str) -> None:
        node = hollow_node(name, index, self._shape, Timestamp(seconds=int(time.time())))
        try:
            await self._client.create(node)
        except AlreadyExists:
            current = await self._client.get(resources.NODES, "", name)
            node.metadata.resource_version = current.metadata.resource_version
            await self._client.update_status(node)

    async def _kubelet(self, name: str) -> None:
        """Report the pods bound to `name` Running, and finish deleting terminating ones."""
        while True:
            try:
                async for kind, obj in self._client.watch(
                    resources.PODS, field_selector=f"spec.nodeName={name}"
                ):
                    if kind in ("ADDED", "MODIFIED") and isinstance(obj, pod_pb2.Pod):
                        await self._sync(obj)
            except ApiError as err:
                log.warning("hollow node %s: watch ended (%s); watching again", name, err)
                await asyncio.sleep(0.5)

    async def _sync(self, pod: pod_pb2.Pod) -> None:
        try:
            if pod.metadata.HasField("deletion_timestamp"):
                await self._client.delete(resources.PODS, pod.metadata.namespace, pod.metadata.name,
                                          grace_period_seconds=0, uid=pod.metadata.uid)  # fmt: skip
            elif pod.status.phase != "Running":
                report = pod_pb2.Pod()
                report.CopyFrom(pod)
                report.status.CopyFrom(
                    running_status(pod, next(self._ips), Timestamp(seconds=int(time.time())))
                )
                await self._client.update_status(report)
                self.running += 1
        except (Conflict, NotFound):
            pass  # the pod moved on; the watch brings its newer version
