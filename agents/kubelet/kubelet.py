"""The Kubelet: one loop that turns every reason to look at a pod into work for that pod's worker.

Sources, each only enqueueing (never syncing itself):
- the pod informer (pods with spec.nodeName=<this node>): added/changed/deleted pods;
- the relister (PLEG, ~1 s): a sandbox or container of some pod changed in the runtime;
- probe results: a readiness or liveness result changed;
- a periodic resync (~10 s): every known pod again, and housekeeping: pods that have containers
  here but no longer exist in the API (orphans) are killed and removed.
The loop keeps uid -> newest pod and calls `PodWorkers.update(uid, pod-or-None)`; workers (one
task per pod) run sync_pod / terminate_pod. Orphans are judged only after the informer's first
list, so a restarting kubelet never mistakes its running pods for orphans; it adopts them, since
sync_pod finds containers by their labels (restart counts included).

Concurrency: everything is on one event loop; `run()` owns every task in one TaskGroup (informer,
relister, status writer, probe workers, node heartbeat, resync, the loop, the pod workers) and
stops them all on cancel; the gRPC server stops with it. A bug in any task ends `run()` with that
exception (the owner, e.g. a Ray actor, restarts the kubelet, which then adopts its pods).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agents.kubelet.images import ImagePuller
from agents.kubelet.node_lease import NodeLease
from agents.kubelet.node_status import NodeStatusReporter, host_facts, node_object
from agents.kubelet.pleg import PodLifecycleEvent, Relister
from agents.kubelet.pod_workers import PodWorkers
from agents.kubelet.podman import PodmanRuntime
from agents.kubelet.probe_manager import ProbeManager
from agents.kubelet.probes import Prober
from agents.kubelet.runtime import ContainerState, Runtime
from agents.kubelet.runtime_config import ClusterDns
from agents.kubelet.server import KubeletService, start_server
from agents.kubelet.status_manager import StatusManager
from agents.kubelet.sync import PodSyncer
from agents.kubelet.tokens import ServiceAccountTokens
from cluster.api.resources import PODS
from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.client.informer import Informer
from cluster.supervision import run_forever
from cluster.tls import Tls
from raykube.v1 import pod_pb2

log = logging.getLogger(__name__)
DRAIN_ROUNDS = 5  # looks for pods still in the making when the kubelet is drained


@dataclass(frozen=True)
class _PodChanged:
    pod: pod_pb2.Pod


@dataclass(frozen=True)
class _PodGone:
    pod: pod_pb2.Pod


@dataclass(frozen=True)
class _LookAt:
    uid: str


@dataclass(frozen=True)
class _Resync:
    pass


_Work = _PodChanged | _PodGone | _LookAt | _Resync


class Kubelet:
    """The node agent for `node_name`.

    `runtime` is a Runtime, or the path of a Podman API socket (see podman_service.PodmanService),
    in which case the kubelet makes and owns a PodmanRuntime. `listen` is where the Kubelet gRPC
    service (logs) binds; port 0 picks one, reported as `port` and in the Node's daemonEndpoints.
    `node_ip` is the InternalIP to register (default: the host's primary IPv4); `api_token`, if
    given, is the bearer token the API server must present when it calls this kubelet; with `tls`
    the service is served over TLS and serves only the client certificate named `api_caller`;
    `state_dir`, where it keeps pods' ServiceAccount tokens (None: pods get none); `dns`,
    where pods resolve names (the cluster's DNS and search path; None: the runtime's default).
    """

    def __init__(
        self,
        node_name: str,
        client: ApiClient,
        runtime: Runtime | str,
        listen: str = "0.0.0.0:0",
        *,
        node_ip: str | None = None,
        api_token: str = "",
        tls: Tls | None = None,
        api_caller: str = "",
        state_dir: Path | None = None,
        dns: ClusterDns | None = None,
        relist_period: float = 1.0,
        resync_period: float = 10.0,
        heartbeat_period: float = 10.0,
        clock: Callable[[], float] = time.time,
    ):
        self.node_name = node_name
        self._client = client
        self._owns_runtime = isinstance(runtime, str)
        self.runtime: Runtime = PodmanRuntime(runtime, node_name) if isinstance(runtime, str) else runtime
        self._listen = listen
        self._node_ip = node_ip
        self._api_token = api_token
        self._tls = tls
        self._api_caller = api_caller
        self._tokens = (
            ServiceAccountTokens(client, state_dir / "pods", tls.ca if tls else "") if state_dir else None
        )
        self._dns = dns
        self._resync_period = resync_period
        self._heartbeat_period = heartbeat_period
        self._clock = clock
        self._queue: asyncio.Queue[_Work] = asyncio.Queue()
        self._pods: dict[str, pod_pb2.Pod] = {}  # uid -> newest pod object
        self.informer: Informer[pod_pb2.Pod] = Informer(
            client, PODS, self, field_selector=f"spec.nodeName={node_name}"
        )
        self.relister = Relister(self.runtime, self._on_runtime_event, period=relist_period)
        self.status = StatusManager(client)
        self.events = EventRecorder(client, "kubelet", node_name)
        self.probes = ProbeManager(Prober(self.runtime), self._look_at, on_failure=self._probe_failed)
        self.port = 0
        self.ready = asyncio.Event()  # serving, registered, and the first pod list is in
        self._run_task: asyncio.Task[None] | None = None

    # -- event sources: they only enqueue ----------------------------------------------------

    def on_add(self, pod: pod_pb2.Pod) -> None:
        self._queue.put_nowait(_PodChanged(pod))

    def on_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if old.metadata.uid != new.metadata.uid:  # replaced under the same name between two lists
            self._queue.put_nowait(_PodGone(old))
        self._queue.put_nowait(_PodChanged(new))

    def on_delete(self, pod: pod_pb2.Pod) -> None:
        self._queue.put_nowait(_PodGone(pod))

    def _on_runtime_event(self, event: PodLifecycleEvent) -> None:
        self._look_at(event.pod_uid)

    def _look_at(self, uid: str) -> None:
        self._queue.put_nowait(_LookAt(uid))

    def _probe_failed(self, uid: str, container: str, kind: str) -> None:
        pod = self._pods.get(uid)
        if pod is not None:
            self.events.event(
                pod, "Warning", "Unhealthy", f"{kind.capitalize()} probe of container {container} failed"
            )

    def _pod_event(self, pod: pod_pb2.Pod, type: str, reason: str, message: str) -> None:
        self.events.event(pod, type, reason, message)

    # -- running -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        self._run_task = asyncio.current_task()
        service = KubeletService(self.runtime, self._api_token, caller=self._api_caller)
        server, self.port = await start_server(service, self._listen, self._tls)
        try:
            facts = host_facts(self._node_ip)
            node = node_object(
                self.node_name, facts, kubelet_port=self.port, runtime_version=await self.runtime.version()
            )
            reporter = NodeStatusReporter(
                self._client,
                node,
                healthy=self.relister.healthy,
                images=self.runtime.list_images,
                period=self._heartbeat_period,
                clock=self._clock,
            )
            syncer = PodSyncer(
                self.runtime,
                self._client,
                self.status,
                self.probes,
                host_ip=facts.ip,
                clock=self._clock,
                images=ImagePuller(self.runtime, self._clock),
                events=self._pod_event,
                dns=self._dns,
                tokens=self._tokens,
            )
            async with asyncio.TaskGroup() as group:
                workers = PodWorkers(syncer.sync_pod, syncer.terminate_pod, group.create_task)
                run_forever(group, "kubelet pod informer", self.informer.run())
                run_forever(group, "kubelet relister", self.relister.run())
                run_forever(group, "kubelet status manager", self.status.run())
                run_forever(group, "kubelet probe manager", self.probes.run())
                run_forever(group, "kubelet node status", reporter.run())
                run_forever(group, "kubelet node lease", NodeLease(self._client, self.node_name).run())
                run_forever(group, "kubelet events", self.events.run())
                run_forever(group, "kubelet resync", self._resync())
                run_forever(group, "kubelet dispatch", self._dispatch(workers))
                group.create_task(self._announce_ready(reporter))
        finally:
            await server.stop(grace=1.0)

    async def _announce_ready(self, reporter: NodeStatusReporter) -> None:
        await self.informer.synced.wait()
        await reporter.registered.wait()
        self.ready.set()
        log.info("kubelet %s ready; serving on port %d", self.node_name, self.port)

    async def _resync(self) -> None:
        await self.informer.synced.wait()
        while True:
            self._queue.put_nowait(_Resync())
            await asyncio.sleep(self._resync_period)

    async def _dispatch(self, workers: PodWorkers) -> None:
        # Orphans are judged only once the first list is in `_pods`: after the first _Resync, which
        # is queued behind the list's pods. (The informer's `synced` is set as soon as the list's
        # pods are queued, ahead of this loop: a runtime event queued earlier, e.g. by the first
        # relist of a restarted kubelet, would have found its pod missing and killed it.)
        listed = False
        while True:
            match await self._queue.get():
                case _PodChanged(pod):
                    self._pods[pod.metadata.uid] = pod
                    workers.update(pod.metadata.uid, pod)
                case _PodGone(pod):
                    self._pods.pop(pod.metadata.uid, None)
                    workers.update(pod.metadata.uid, None)
                case _LookAt(uid):
                    if uid in self._pods:
                        workers.update(uid, self._pods[uid])
                    elif listed:
                        workers.update(uid, None)  # an orphan: its pod is not in the API
                case _Resync():
                    listed = True
                    for uid, pod in self._pods.items():
                        workers.update(uid, pod)
                    for uid in self.relister.pod_uids() - self._pods.keys():
                        workers.update(uid, None)

    async def shutdown(self, remove_pods: bool, grace_seconds: int = 2) -> None:
        """Stop `run()`; with `remove_pods`, also stop and remove every sandbox and container of this
        node (SIGTERM, SIGKILL after `grace_seconds`). Pods left running are adopted by the next
        kubelet of this node."""
        task = self._run_task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if remove_pods:
            # A pod the cancelled workers asked Podman for may still be in the making: look again
            # after a pause until a look finds nothing.
            for _ in range(DRAIN_ROUNDS):
                if not await self._remove_everything(grace_seconds):
                    break
                await asyncio.sleep(1.0)
        if self._owns_runtime and isinstance(self.runtime, PodmanRuntime):
            await self.runtime.close()

    async def _remove_everything(self, grace_seconds: int) -> bool:
        """Stop and remove every sandbox and container of this node; False if there were none.
        One that fails to go (Podman still busy starting it) is logged and looked at next round."""
        listed = await self.runtime.list_pods()
        running = [c for c in listed.containers if c.state is ContainerState.RUNNING]
        steps = (
            [self.runtime.stop_container(c.id, grace_seconds) for c in running],
            [self.runtime.remove_sandbox(s.id, grace_seconds) for s in listed.sandboxes],
        )
        for step in steps:
            for failed in await asyncio.gather(*step, return_exceptions=True):
                if isinstance(failed, Exception):
                    log.warning("draining node %s: %s", self.node_name, failed)
        leftovers = (await self.runtime.list_pods()).containers
        await asyncio.gather(
            *(self.runtime.remove_container(c.id) for c in leftovers), return_exceptions=True
        )
        return bool(listed.sandboxes or listed.containers)
