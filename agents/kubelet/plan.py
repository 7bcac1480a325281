"""What to do for one pod: the desired spec against what the runtime has, as a pure function.

`compute_pod_actions` is the heart of sync_pod (Kubernetes' computePodActions): it reads no
clock and does no I/O, so running it twice on the same inputs gives the same answer, and the pod
worker can call sync_pod as often as it likes. The executor (sync.py) carries the answer out.

Rules, per spec container, looking at its newest instance (highest restart count):
- no instance: start instance 0.
- running: keep it; kill it when its liveness probe failed (the next sync restarts it per policy).
- created but never started (e.g. the kubelet died in between): start that same instance.
- exited: restart as instance n+1 when the policy says so (Always; OnFailure with a non-zero exit),
  unless the restart back-off since it finished has not elapsed (waiting: CrashLoopBackOff).
- instances older than the newest two are removed (the newest dead one stays for `logs --previous`);
  an older instance still running is a duplicate: killed and removed. Instances of names that are
  not in the spec are killed and removed.
Sandboxes: the newest ready one (its network holder runs) is the pod's. An instance that is not
dead and lives elsewhere lost its sandbox: it is killed and, unless the policy is Never, replaced
by instance n+1; a new sandbox (next attempt number) is made when something is to start and no
sandbox is ready. Old sandboxes stay while they hold an instance we keep, so restart counts and
`logs --previous` survive a lost sandbox; then they are removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from agents.kubelet.backoff import Backoff
from agents.kubelet.runtime import ContainerInfo, ContainerState, SandboxInfo
from raykube.v1 import pod_pb2

ALWAYS, ON_FAILURE, NEVER = "Always", "OnFailure", "Never"
CRASH_LOOP_BACK_OFF = "CrashLoopBackOff"


@dataclass(frozen=True)
class Waiting:
    """Why a container is not running, Kubernetes' waiting reason; `retry_after` seconds if known."""

    reason: str
    message: str = ""
    retry_after: float | None = None


@dataclass(frozen=True)
class StartContainer:
    name: str
    restart_count: int
    reuse_id: str = ""  # an instance that was created but never started: start it, create nothing
    backoff_since: float | None = None  # the previous instance finished then: record the restart


@dataclass(frozen=True)
class KillContainer:
    id: str
    name: str
    reason: str


@dataclass(frozen=True)
class PodActions:
    create_sandbox: bool = False
    sandbox_attempt: int = 0  # the attempt number a new sandbox gets
    remove_sandboxes: tuple[str, ...] = ()
    kill: tuple[KillContainer, ...] = ()
    start: tuple[StartContainer, ...] = ()
    remove: tuple[str, ...] = ()  # dead instances to delete
    waiting: Mapping[str, Waiting] = field(default_factory=dict)

    @property
    def changes_world(self) -> bool:
        return bool(self.create_sandbox or self.remove_sandboxes or self.kill or self.start or self.remove)

    @property
    def retry_after(self) -> float | None:
        delays = [w.retry_after for w in self.waiting.values() if w.retry_after is not None]
        return min(delays) if delays else None


def restart_policy(spec: pod_pb2.PodSpec) -> str:
    return spec.restart_policy or ALWAYS


def should_restart(policy: str, exit_code: int) -> bool:
    return policy == ALWAYS or (policy == ON_FAILURE and exit_code != 0)


def backoff_key(pod_uid: str, container: str) -> str:
    return f"{pod_uid}/{container}"


def newest_first(instances: Iterable[ContainerInfo]) -> list[ContainerInfo]:
    return sorted(instances, key=lambda c: (c.restart_count, c.created_at), reverse=True)


def by_name(containers: Iterable[ContainerInfo]) -> dict[str, list[ContainerInfo]]:
    """Instances per container name, newest first."""
    grouped: dict[str, list[ContainerInfo]] = defaultdict(list)
    for container in containers:
        grouped[container.name].append(container)
    return {name: newest_first(instances) for name, instances in grouped.items()}


def pod_sandbox(sandboxes: Iterable[SandboxInfo]) -> SandboxInfo | None:
    """The pod's sandbox: the newest ready one."""
    ready = [s for s in sandboxes if s.ready]
    return max(ready, key=lambda s: (s.attempt, s.created_at)) if ready else None


def compute_pod_actions(
    pod: pod_pb2.Pod,
    sandboxes: Sequence[SandboxInfo],
    containers: Sequence[ContainerInfo],
    *,
    backoff: Backoff,
    now: float,
    unhealthy: Set[str] = frozenset(),
) -> PodActions:
    policy = restart_policy(pod.spec)
    keep = pod_sandbox(sandboxes)
    instances = by_name(containers)
    spec_names = [c.name for c in pod.spec.containers]

    start: list[StartContainer] = []
    kill: list[KillContainer] = []
    remove: list[str] = []
    waiting: dict[str, Waiting] = {}
    kept: list[ContainerInfo] = []  # instances that stay: they pin their sandbox

    for name in spec_names:
        history = instances.get(name, [])
        kept.extend(history[:2])
        for old in history[2:]:
            if old.state is ContainerState.RUNNING:
                kill.append(KillContainer(old.id, name, "Duplicate"))
            remove.append(old.id)
        latest = history[0] if history else None
        if latest is None:
            start.append(StartContainer(name, 0))
        elif latest.state is ContainerState.EXITED:
            if should_restart(policy, latest.exit_code):
                key = backoff_key(pod.metadata.uid, name)
                delay = backoff.remaining(key, latest.finished_at, now)
                if delay > 0:
                    waiting[name] = _crash_loop(pod, name, backoff.delay(key), delay)
                else:
                    start.append(
                        StartContainer(name, latest.restart_count + 1, backoff_since=latest.finished_at)
                    )
        elif keep is None or latest.sandbox_id != keep.id:
            # its sandbox is gone: the instance cannot go on; a new one may, in a new sandbox
            if latest.state is ContainerState.RUNNING:
                kill.append(KillContainer(latest.id, name, "SandboxChanged"))
            if policy != NEVER or latest.state is ContainerState.CREATED:
                start.append(StartContainer(name, latest.restart_count + 1))
        elif latest.state is ContainerState.RUNNING:
            if latest.id in unhealthy:
                kill.append(KillContainer(latest.id, name, "Unhealthy"))
        elif latest.state is ContainerState.CREATED:
            start.append(StartContainer(name, latest.restart_count, reuse_id=latest.id))

    for name, history in instances.items():
        if name not in spec_names:
            for unknown in history:
                if unknown.state is ContainerState.RUNNING:
                    kill.append(KillContainer(unknown.id, name, "NotInSpec"))
                remove.append(unknown.id)

    pinned = {c.sandbox_id for c in kept}
    return PodActions(
        create_sandbox=keep is None and bool(start),
        sandbox_attempt=max((s.attempt for s in sandboxes), default=-1) + 1,
        remove_sandboxes=tuple(s.id for s in sandboxes if s is not keep and s.id not in pinned),
        kill=tuple(kill),
        start=tuple(start),
        remove=tuple(remove),
        waiting=waiting,
    )


def _crash_loop(pod: pod_pb2.Pod, name: str, delay: float, remaining: float) -> Waiting:
    meta = pod.metadata
    return Waiting(
        CRASH_LOOP_BACK_OFF,
        f"back-off {delay:.0f}s restarting failed container={name} "
        f"pod={meta.name}_{meta.namespace}({meta.uid})",
        retry_after=remaining,
    )
