"""The node lifecycle controller: notices nodes that stopped reporting, taints them, evicts their pods.

Every `monitor_period` it looks at each node's heartbeat: its Lease in kube-node-lease (renewed
by the kubelet every 10 s) and its Ready condition's lastHeartbeatTime. A heartbeat is judged by
this controller's own clock, from when it last saw it change (so a controller that just started,
or whose host's clock differs, never declares every node dead at once). Then:
  - no heartbeat for `grace_period`: the node's Ready condition becomes Unknown
    ("Kubelet stopped posting node status."), its pods are marked not ready, event NodeNotReady;
  - taints follow Ready: False -> node.kubernetes.io/not-ready, Unknown -> .../unreachable, each
    with NoSchedule (the scheduler places nothing there) and NoExecute; True -> neither;
  - NoExecute taints are added at most `eviction_rate` nodes per second, and none while every
    node is unhealthy (full disruption: then the problem is not the nodes, and evicting everything
    would only make it worse; existing NoExecute taints are lifted);
  - pods on a node with NoExecute taints are evicted (deleted) unless they tolerate them: at once
    without a toleration, after tolerationSeconds with one (DefaultTolerationSeconds gives every
    pod 20 s), never with one that has no limit. Event TaintManagerEviction on the pod.
When the kubelet reports again, Ready turns True and the taints go.

Lab defaults, next to Kubernetes' own: grace period 20 s (40 s), toleration 20 s (300 s), so a
dead host's pods run again elsewhere within about a minute (Kubernetes: about six).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources, wellknown
from cluster.api.taints import tolerates
from cluster.client.api import ApiClient
from cluster.client.events import NORMAL, EventRecorder
from cluster.controllers.informers import SharedInformers
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import node_pb2, pod_pb2

log = logging.getLogger(__name__)
TAINT_KEYS = {"False": wellknown.TAINT_NODE_NOT_READY, "Unknown": wellknown.TAINT_NODE_UNREACHABLE}


@dataclass(frozen=True)
class NodeLifecycleConfig:
    monitor_period: float = 2.0
    grace_period: float = 20.0
    eviction_rate: float = 0.5  # nodes per second that may get NoExecute taints


def ready_status(node: node_pb2.Node) -> str:
    ready = conditions.find(node.status.conditions, "Ready")
    return ready.status if ready is not None else "Unknown"


def desired_taints(node: node_pb2.Node, *, no_execute: bool) -> set[tuple[str, str]]:
    """(key, effect) of the condition taints `node` should have, by its Ready condition."""
    key = TAINT_KEYS.get(ready_status(node))
    if key is None:
        return set()
    return {(key, "NoSchedule"), (key, "NoExecute")} if no_execute else {(key, "NoSchedule")}


def toleration_seconds(pod: pod_pb2.Pod, taint: node_pb2.Taint) -> float | None:
    """How long `pod` tolerates a NoExecute `taint`: 0 (not at all), seconds (the shortest of its
    matching tolerations' limits), or None (for ever: no matching toleration sets a limit)."""
    limits = [t.toleration_seconds for t in pod.spec.tolerations if tolerates(t, taint)
              and t.HasField("toleration_seconds")]  # fmt: skip
    if not any(tolerates(t, taint) for t in pod.spec.tolerations):
        return 0.0
    return float(max(min(limits), 0)) if limits else None


class NodeLifecycleController:
    name = "node-lifecycle-controller"

    def __init__(
        self,
        client: ApiClient,
        informers: SharedInformers,
        recorder: EventRecorder,
        config: NodeLifecycleConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._recorder = recorder
        self._config = config or NodeLifecycleConfig()
        self._clock = clock
        self._wall_clock = wall_clock
        self._nodes = informers[resources.NODES]
        self._leases = informers[resources.LEASES]
        self._pods = informers[resources.PODS]
        self._seen: dict[str, tuple[tuple[int, int], float]] = {}  # node -> (heartbeat, when it changed)
        self._tokens = 1.0  # the eviction rate limiter's bucket (burst 1)
        self._last_refill = clock()

    async def run(self) -> None:
        while True:
            try:
                await self.monitor()
            except ApiError as err:
                log.info("%s: %s; trying again", self.name, err)
            await asyncio.sleep(self._config.monitor_period)

    async def monitor(self) -> None:
        """One pass over every node: health, taints, evictions."""
        self._refill()
        nodes = {node.metadata.name: node for node in self._nodes.items()}
        for name, node in nodes.items():
            if self._stale(node) and ready_status(node) != "Unknown":
                with contextlib.suppress(Conflict):  # written meanwhile (its kubelet?): next pass
                    nodes[name] = await self._mark_unknown(node)
        full_disruption = bool(nodes) and not any(ready_status(n) == "True" for n in nodes.values())
        for name, node in nodes.items():
            with contextlib.suppress(Conflict):  # the cache lags our own last write: next pass
                nodes[name] = await self._taint(node, full_disruption)
        for node in nodes.values():
            await self._evict(node)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(1.0, self._tokens + (now - self._last_refill) * self._config.eviction_rate)
        self._last_refill = now

    def _stale(self, node: node_pb2.Node) -> bool:
        name = node.metadata.name
        lease = self._leases.get(wellknown.NAMESPACE_NODE_LEASE, name)
        ready = conditions.find(node.status.conditions, "Ready")
        heartbeat = (
            lease.spec.renew_time.seconds if lease is not None else 0,
            ready.last_heartbeat_time.seconds if ready is not None else 0,
        )
        now = self._clock()
        seen = self._seen.get(name)
        if seen is None or seen[0] != heartbeat:
            self._seen[name] = (heartbeat, now)
            return False
        return now - seen[1] > self._config.grace_period

    async def _mark_unknown(self, node: node_pb2.Node) -> node_pb2.Node:
        name = node.metadata.name
        log.warning("node %s stopped posting its status; marking it NotReady (Unknown)", name)
        updated = node_pb2.Node()
        updated.CopyFrom(node)
        stamp = Timestamp(seconds=int(self._wall_clock()))
        for condition in updated.status.conditions:
            conditions.set_condition(updated.status.conditions, condition.type, "Unknown", stamp,
                                     "NodeStatusUnknown", "Kubelet stopped posting node status.")  # fmt: skip
        if conditions.find(updated.status.conditions, "Ready") is None:
            conditions.set_condition(updated.status.conditions, "Ready", "Unknown", stamp,
                                     "NodeStatusUnknown", "Kubelet never posted node status.")  # fmt: skip
        written = await self._client.update_status(updated)
        self._recorder.event(node, NORMAL, "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        for pod in self._pods_on(name):
            await self._mark_pod_not_ready(pod, stamp)
        return written

    async def _mark_pod_not_ready(self, pod: pod_pb2.Pod, stamp: Timestamp) -> None:
        if not conditions.is_true(pod.status.conditions, "Ready"):
            return
        updated = pod_pb2.Pod()
        updated.CopyFrom(pod)
        conditions.set_condition(updated.status.conditions, "Ready", "False", stamp, "NodeNotReady", "")
        with contextlib.suppress(NotFound):
            await self._client.update_status(updated)

    def _pods_on(self, node: str) -> list[pod_pb2.Pod]:
        return [p for p in self._pods.items() if p.spec.node_name == node]

    async def _taint(self, node: node_pb2.Node, full_disruption: bool) -> node_pb2.Node:
        """The node with the taints its condition calls for (written if they changed)."""
        wanted = desired_taints(node, no_execute=not full_disruption)
        managed = {(t.key, t.effect) for t in node.spec.taints if t.key in TAINT_KEYS.values()}
        adds_no_execute = any(effect == "NoExecute" for _, effect in wanted - managed)
        if adds_no_execute:
            if self._tokens < 1.0:  # rate-limited: add only the NoSchedule taint this time
                wanted = {(k, e) for k, e in wanted if e != "NoExecute" or (k, e) in managed}
            else:
                self._tokens -= 1.0
        if wanted == managed:
            return node
        updated = node_pb2.Node()
        updated.CopyFrom(node)
        kept = [
            t for t in updated.spec.taints if t.key not in TAINT_KEYS.values() or (t.key, t.effect) in wanted
        ]
        del updated.spec.taints[:]
        updated.spec.taints.extend(kept)
        now = Timestamp(seconds=int(self._wall_clock()))
        for key, effect in sorted(wanted - managed):
            updated.spec.taints.add(key=key, effect=effect, time_added=now)
        log.info("node %s taints: %s", node.metadata.name, sorted(f"{k}:{e}" for k, e in wanted) or "none")
        return await self._client.update(updated)

    async def _evict(self, node: node_pb2.Node) -> None:
        taints = [t for t in node.spec.taints if t.effect == "NoExecute"]
        if not taints:
            return
        now = self._wall_clock()
        for pod in self._pods_on(node.metadata.name):
            if pod.metadata.HasField("deletion_timestamp"):
                continue
            limits = [(t, toleration_seconds(pod, t)) for t in taints]
            deadlines = [t.time_added.seconds + s for t, s in limits if s is not None]
            if not deadlines or min(deadlines) > now:
                continue  # tolerated forever, or not yet for long enough
            meta = pod.metadata
            log.info("evicting pod %s/%s from node %s", meta.namespace, meta.name, node.metadata.name)
            self._recorder.event(
                pod, NORMAL, "TaintManagerEviction", f"Marking for deletion Pod {meta.namespace}/{meta.name}"
            )
            with contextlib.suppress(NotFound):
                await self._client.delete(resources.PODS, meta.namespace, meta.name, uid=meta.uid)
