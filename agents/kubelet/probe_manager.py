"""Probe workers: one task per (running container instance, probe kind), and their results.

sync_pod calls `sync(pod, pod_ip, instances)` after each sync; it starts a worker for every running
instance whose spec has a readiness or liveness probe and cancels workers of instances that stopped
running or went away (with their results). A new instance gets fresh workers, so initialDelaySeconds
counts from each start. Workers are tasks of the manager's own TaskGroup (`run()`).

Results, keyed by container instance id:
- readiness: unknown (not ready) until the first success; flips to ready after successThreshold
  consecutive successes and back after failureThreshold consecutive failures.
- liveness: healthy until failureThreshold consecutive failures; then the instance is marked
  unhealthy, its worker stops, and the next sync kills it (restart per restartPolicy).
Every change calls `on_change(pod_uid)`, which only enqueues a sync of that pod; every failed
probe calls `on_failure(pod_uid, container name, kind)` (the kubelet records Unhealthy).
Defaults as Kubernetes': period 10 s, timeout 1 s, thresholds success 1 / failure 3.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from agents.kubelet.probes import Prober, ProbeTarget
from agents.kubelet.runtime import ContainerInfo, ContainerState
from raykube.v1 import pod_pb2

READINESS, LIVENESS = "readiness", "liveness"
DEFAULT_PERIOD = 10
DEFAULT_FAILURE_THRESHOLD = 3
WorkerKey = tuple[str, str]  # container instance id, probe kind


class ProbeManager:
    def __init__(
        self,
        prober: Prober,
        on_change: Callable[[str], None],
        *,
        on_failure: Callable[[str, str, str], None] = lambda uid, name, kind: None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self._prober = prober
        self._on_change = on_change
        self._on_failure = on_failure
        self._sleep = sleep
        self._workers: dict[WorkerKey, tuple[str, asyncio.Task[None]]] = {}  # -> pod uid, task
        self._ready: dict[str, bool] = {}
        self._unhealthy: set[str] = set()
        self._group: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._group = group
            try:
                await asyncio.Future()  # until cancelled
            finally:
                self._group = None

    def readiness(self) -> dict[str, bool]:
        return dict(self._ready)

    def unhealthy(self) -> frozenset[str]:
        return frozenset(self._unhealthy)

    def sync(self, pod: pod_pb2.Pod, pod_ip: str, instances: Sequence[ContainerInfo]) -> None:
        uid = pod.metadata.uid
        specs = {c.name: c for c in pod.spec.containers}
        wanted: dict[WorkerKey, tuple[str, pod_pb2.Probe, ProbeTarget]] = {}
        for instance in instances:
            spec = specs.get(instance.name)
            if spec is None or instance.state is not ContainerState.RUNNING:
                continue
            target = ProbeTarget(
                instance.id, pod_ip, {p.name: p.container_port for p in spec.ports if p.name}
            )
            if spec.HasField("readiness_probe"):
                wanted[instance.id, READINESS] = instance.name, spec.readiness_probe, target
            if spec.HasField("liveness_probe"):
                wanted[instance.id, LIVENESS] = instance.name, spec.liveness_probe, target
        for key in [k for k, (owner, _) in self._workers.items() if owner == uid and k not in wanted]:
            self._stop(key)
        for key, (name, probe, target) in wanted.items():
            if key not in self._workers:
                self._start(uid, name, key, probe, target)

    def forget(self, uid: str) -> None:
        for key in [k for k, (owner, _) in self._workers.items() if owner == uid]:
            self._stop(key)

    def _start(self, uid: str, name: str, key: WorkerKey, probe: pod_pb2.Probe, target: ProbeTarget) -> None:
        if self._group is None:
            raise RuntimeError("the probe manager is not running")
        self._workers[key] = uid, self._group.create_task(self._work(uid, name, key, probe, target))

    def _stop(self, key: WorkerKey) -> None:
        _, task = self._workers.pop(key)
        task.cancel()
        container_id, kind = key
        if kind == READINESS:
            self._ready.pop(container_id, None)
        else:
            self._unhealthy.discard(container_id)

    async def _work(
        self, uid: str, name: str, key: WorkerKey, probe: pod_pb2.Probe, target: ProbeTarget
    ) -> None:
        container_id, kind = key
        period = probe.period_seconds or DEFAULT_PERIOD
        to_succeed = probe.success_threshold or 1
        to_fail = probe.failure_threshold or DEFAULT_FAILURE_THRESHOLD
        successes = failures = 0
        await self._sleep(probe.initial_delay_seconds)
        while True:
            ok = await self._prober.probe(probe, target)
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if not ok:
                self._on_failure(uid, name, kind)
            if kind == READINESS:
                if successes >= to_succeed or failures >= to_fail:
                    self._set_ready(uid, container_id, ok)
            elif failures >= to_fail:
                self._unhealthy.add(container_id)
                self._on_change(uid)
                return
            await self._sleep(period)

    def _set_ready(self, uid: str, container_id: str, ready: bool) -> None:
        if self._ready.get(container_id) != ready:
            self._ready[container_id] = ready
            self._on_change(uid)
