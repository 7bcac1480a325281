"""sync_pod and terminate_pod: make the runtime match one pod, then report its status.

Called only by that pod's worker (pod_workers.py), so for one pod at most one of these runs at a
time; different pods run concurrently.

sync_pod is reentrant and idempotent: it reads what the runtime has for the pod (by labels, never
from memory), asks the pure plan what to do, does it, reads again and hands the status to the status
manager. Run twice, it finds the containers the first run made and does nothing. Container names
are deterministic, so even a racing duplicate create fails instead of running twice. What it keeps
in memory is only what the runtime cannot tell: restart back-off, and which created-but-unstarted
instances failed to start (waiting RunContainerError, then shown as terminated with StartError,
exit code 128, and restarted with back-off, as Kubernetes does). A terminal pod (Succeeded/Failed)
is never started again.

terminate_pod stops every container within the grace period (SIGTERM, then SIGKILL), removes the
sandboxes, checks that nothing is left, and then, for a pod the API server marked for deletion,
finishes the deletion (grace 0, uid precondition). Any failure raises; the worker retries it.

Runtime failures and API errors propagate to the pod worker, which retries with back-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Sequence

from agents.kubelet.backoff import Backoff
from agents.kubelet.images import ImagePuller
from agents.kubelet.plan import (
    CRASH_LOOP_BACK_OFF,
    PodActions,
    StartContainer,
    Waiting,
    backoff_key,
    compute_pod_actions,
    pod_sandbox,
)
from agents.kubelet.pod_status import TERMINAL_PHASES, compute_pod_status
from agents.kubelet.probe_manager import ProbeManager
from agents.kubelet.runtime import (
    ContainerInfo,
    ContainerState,
    Mount,
    NameInUse,
    Runtime,
    RuntimeFailure,
    SandboxInfo,
    StartFailed,
)
from agents.kubelet.runtime_config import ClusterDns, container_config, grace_seconds, sandbox_config
from agents.kubelet.status_manager import StatusManager
from agents.kubelet.tokens import ServiceAccountTokens
from cluster.api.resources import PODS
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import pod_pb2

ORPHAN_GRACE_SECONDS = 1  # a pod gone from the API has no grace period left (Kubernetes uses 1 s)
START_ERROR_EXIT_CODE = 128
CREATE_CONTAINER_ERROR = "CreateContainerError"
CREATE_CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
RUN_CONTAINER_ERROR = "RunContainerError"
PodEvents = Callable[[pod_pb2.Pod, str, str, str], None]  # (pod, type, reason, message)


def _no_events(pod: pod_pb2.Pod, type: str, reason: str, message: str) -> None:
    pass


@dataclasses.dataclass(frozen=True)
class _StartFailure:
    pod_uid: str
    message: str
    at: float


class PodSyncer:
    def __init__(
        self,
        runtime: Runtime,
        client: ApiClient,
        status: StatusManager,
        probes: ProbeManager,
        *,
        host_ip: str,
        clock: Callable[[], float],
        images: ImagePuller | None = None,
        backoff: Backoff | None = None,
        events: PodEvents = _no_events,
        dns: ClusterDns | None = None,
        tokens: ServiceAccountTokens | None = None,
    ):
        self._runtime = runtime
        self._client = client
        self._status = status
        self._probes = probes
        self._host_ip = host_ip
        self._clock = clock
        self._images = images or ImagePuller(runtime, clock)
        self._backoff = backoff or Backoff()
        self._events = events
        self._dns = dns
        self._tokens = tokens
        self._start_failures: dict[str, _StartFailure] = {}  # container instance id -> failure

    async def sync_pod(self, pod: pod_pb2.Pod) -> float | None:
        """Converge the runtime on `pod`; seconds after which to sync again (None: on events only)."""
        uid = pod.metadata.uid
        sandboxes, containers = await self._observe(uid)
        waiting: dict[str, Waiting] = {}
        if self._status.current(pod).phase not in TERMINAL_PHASES:
            actions = compute_pod_actions(
                pod,
                sandboxes,
                containers,
                backoff=self._backoff,
                now=self._clock(),
                unhealthy=self._probes.unhealthy(),
            )
            waiting.update(actions.waiting)
            for name, reason in actions.waiting.items():
                if reason.reason == CRASH_LOOP_BACK_OFF:
                    self._events(
                        pod,
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container {name} in pod {pod.metadata.name}",
                    )
            if actions.changes_world:
                if actions.create_sandbox:  # tell the user we are on it before pulling images
                    self._report(pod, None, containers, waiting)
                waiting.update(await self._apply(pod, actions, pod_sandbox(sandboxes)))
                sandboxes, containers = await self._observe(uid)
        sandbox = pod_sandbox(sandboxes)
        if (
            self._tokens is not None
            and sandbox is not None
            and self._status.current(pod).phase not in TERMINAL_PHASES
        ):
            with contextlib.suppress(ApiError):  # keeps the token fresh; a refusal shows at the next start
                await self._tokens.ensure(pod)
        self._probes.sync(pod, sandbox.ip if sandbox else "", containers)
        self._report(pod, sandbox, containers, waiting)
        delays = [w.retry_after for w in waiting.values() if w.retry_after is not None]
        return min(delays) if delays else None

    async def terminate_pod(self, uid: str, pod: pod_pb2.Pod | None) -> None:
        """Stop and remove everything of pod `uid`; finish its deletion if the API asked for it."""
        grace = grace_seconds(pod) if pod is not None else ORPHAN_GRACE_SECONDS
        self._probes.forget(uid)
        sandboxes, containers = await self._observe(uid)
        running = [c for c in containers if c.state is ContainerState.RUNNING]
        for container in running:
            if pod is not None:
                self._events(pod, "Normal", "Killing", f"Stopping container {container.name}")
        await asyncio.gather(*(self._runtime.stop_container(c.id, grace) for c in running))
        for sandbox in sandboxes:
            await self._runtime.remove_sandbox(sandbox.id, grace)
        housed = {s.id for s in sandboxes}
        for container in containers:
            if container.sandbox_id not in housed:
                await self._runtime.remove_container(container.id)
        sandboxes, containers = await self._observe(uid)
        if sandboxes or containers:
            raise RuntimeFailure(f"pod {uid}: {len(sandboxes) + len(containers)} objects left after removal")
        if pod is not None and pod.metadata.HasField("deletion_timestamp"):
            meta = pod.metadata
            # NotFound: gone already; Conflict: the name belongs to a newer pod. Ours is gone either way.
            with contextlib.suppress(NotFound, Conflict):
                await self._client.delete(PODS, meta.namespace, meta.name, grace_period_seconds=0, uid=uid)
        self.forget(uid)

    def forget(self, uid: str) -> None:
        self._status.forget(uid)
        self._probes.forget(uid)
        self._backoff.forget_prefix(backoff_key(uid, ""))
        self._start_failures = {k: v for k, v in self._start_failures.items() if v.pod_uid != uid}
        if self._tokens is not None:
            self._tokens.forget(uid)

    # -- helpers -----------------------------------------------------------------------------

    async def _observe(self, uid: str) -> tuple[Sequence[SandboxInfo], list[ContainerInfo]]:
        listed = await self._runtime.list_pods(uid)
        present = {c.id for c in listed.containers}
        for stale in [k for k, v in self._start_failures.items() if v.pod_uid == uid and k not in present]:
            del self._start_failures[stale]
        return listed.sandboxes, [self._with_start_failure(c) for c in listed.containers]

    def _with_start_failure(self, container: ContainerInfo) -> ContainerInfo:
        failure = self._start_failures.get(container.id)
        if failure is None or container.state is not ContainerState.CREATED:
            return container
        return dataclasses.replace(
            container,
            state=ContainerState.EXITED,
            exit_code=START_ERROR_EXIT_CODE,
            reason="StartError",
            message=failure.message,
            finished_at=failure.at,
        )

    async def _apply(
        self, pod: pod_pb2.Pod, actions: PodActions, sandbox: SandboxInfo | None
    ) -> dict[str, Waiting]:
        grace = grace_seconds(pod)
        for sandbox_id in actions.remove_sandboxes:
            await self._runtime.remove_sandbox(sandbox_id, grace)
        for kill in actions.kill:
            if kill.reason == "Unhealthy":
                message = f"Container {kill.name} failed liveness probe, will be restarted"
            else:
                message = f"Stopping container {kill.name}"
            self._events(pod, "Normal", "Killing", message)
        await asyncio.gather(*(self._runtime.stop_container(k.id, grace) for k in actions.kill))
        for container_id in actions.remove:
            await self._runtime.remove_container(container_id)
        if actions.create_sandbox:
            sandbox = await self._runtime.run_sandbox(sandbox_config(pod, actions.sandbox_attempt, self._dns))
        if sandbox is None:
            return {}
        waiting: dict[str, Waiting] = {}
        for start in actions.start:
            reason = await self._start(pod, sandbox, start)
            if reason is not None:
                waiting[start.name] = reason
        return waiting

    async def _start(self, pod: pod_pb2.Pod, sandbox: SandboxInfo, start: StartContainer) -> Waiting | None:
        spec = next(c for c in pod.spec.containers if c.name == start.name)

        def note(type: str, reason: str, message: str) -> None:
            self._events(pod, type, reason, message)

        not_ready = await self._images.ensure(spec, note)
        if not_ready is not None:
            return not_ready
        container_id = start.reuse_id
        if not container_id:
            try:
                mounts = await self._mounts(pod)
            except ApiError as err:
                note("Warning", "FailedMount", f"service account token: {err}")
                return Waiting(
                    CREATE_CONTAINER_CONFIG_ERROR, f"service account token: {err}", retry_after=2.0
                )
            try:
                container_id = await self._runtime.create_container(
                    sandbox.id, container_config(pod, spec, start.restart_count, mounts)
                )
            except NameInUse:
                return None  # made by an earlier attempt; the next sync sees and starts it
            except RuntimeFailure as err:
                note("Warning", "Failed", f"Error: {err}")
                return Waiting(CREATE_CONTAINER_ERROR, str(err))
            note("Normal", "Created", f"Created container {start.name}")
        key = backoff_key(pod.metadata.uid, start.name)
        if start.backoff_since is not None:
            self._backoff.next(key, start.backoff_since)
        try:
            await self._runtime.start_container(container_id)
        except StartFailed as err:
            now = self._clock()
            self._start_failures[container_id] = _StartFailure(pod.metadata.uid, str(err), now)
            note("Warning", "Failed", f"Error: {err}")
            return Waiting(RUN_CONTAINER_ERROR, str(err), retry_after=self._backoff.remaining(key, now, now))
        note("Normal", "Started", f"Started container {start.name}")
        return None

    async def _mounts(self, pod: pod_pb2.Pod) -> tuple[Mount, ...]:
        mount = await self._tokens.ensure(pod) if self._tokens is not None else None
        return (mount,) if mount is not None else ()

    def _report(
        self,
        pod: pod_pb2.Pod,
        sandbox: SandboxInfo | None,
        containers: Sequence[ContainerInfo],
        waiting: dict[str, Waiting],
    ) -> None:
        status = compute_pod_status(
            pod,
            old=self._status.current(pod),
            sandbox=sandbox,
            containers=containers,
            waiting=waiting,
            readiness=self._probes.readiness(),
            host_ip=self._host_ip,
            now=self._clock(),
        )
        self._status.set(pod, status)
