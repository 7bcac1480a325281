"""A pod's status as Kubernetes reports it, computed from what the runtime says (pure).

Inputs are the pod (spec, and the status last written, `old`), the pod's sandbox and container
instances, the waiting reasons sync_pod found (CrashLoopBackOff, ErrImagePull, ...), readiness
results, the node's IP and the time. The result depends only on them, and times are whole seconds
and carried over from `old` where nothing changed (startTime, conditions' lastTransitionTime), so
the same world gives an equal message: the status manager writes only real changes.

Phase follows the kubelet's getPhase: Pending while some container has not started yet; Running
once all have started and one runs, or while a terminated one will be restarted; Succeeded/Failed
when all terminated and none will restart per restartPolicy. A terminal phase never changes back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from google.protobuf.timestamp_pb2 import Timestamp

from agents.kubelet.plan import ALWAYS, NEVER, Waiting, by_name, restart_policy
from agents.kubelet.runtime import ContainerInfo, ContainerState, SandboxInfo
from cluster.api.conditions import set_condition
from raykube.v1 import pod_pb2

PENDING, RUNNING, SUCCEEDED, FAILED = "Pending", "Running", "Succeeded", "Failed"
TERMINAL_PHASES = frozenset({SUCCEEDED, FAILED})
CONTAINER_CREATING = "ContainerCreating"
CONTAINER_ID_PREFIX = "podman://"


def timestamp(seconds: float) -> Timestamp:
    return Timestamp(seconds=int(seconds))


def container_id(instance: ContainerInfo) -> str:
    return f"{CONTAINER_ID_PREFIX}{instance.id}"


def terminated_state(instance: ContainerInfo) -> pod_pb2.ContainerState:
    reason = instance.reason or ("Completed" if instance.exit_code == 0 else "Error")
    terminated = pod_pb2.ContainerStateTerminated(
        exit_code=instance.exit_code,
        reason=reason,
        message=instance.message,
        container_id=container_id(instance),
    )
    if instance.started_at:
        terminated.started_at.CopyFrom(timestamp(instance.started_at))
    if instance.finished_at:
        terminated.finished_at.CopyFrom(timestamp(instance.finished_at))
    return pod_pb2.ContainerState(terminated=terminated)


def _waiting_state(waiting: Waiting | None) -> pod_pb2.ContainerState:
    reason, message = (waiting.reason, waiting.message) if waiting else (CONTAINER_CREATING, "")
    return pod_pb2.ContainerState(waiting=pod_pb2.ContainerStateWaiting(reason=reason, message=message))


def container_status(
    spec: pod_pb2.Container,
    history: Sequence[ContainerInfo],
    waiting: Waiting | None,
    readiness: Mapping[str, bool],
) -> pod_pb2.ContainerStatus:
    """One container's status from its instances (newest first)."""
    status = pod_pb2.ContainerStatus(name=spec.name, image=spec.image, started=False)
    if not history:
        status.state.CopyFrom(_waiting_state(waiting))
        return status
    latest = history[0]
    previous = history[1] if len(history) > 1 else None
    status.restart_count = latest.restart_count
    status.image_id = latest.image_id
    status.container_id = container_id(latest)
    if latest.state is ContainerState.RUNNING:
        status.state.running.started_at.CopyFrom(timestamp(latest.started_at))
        status.started = True
        status.ready = readiness.get(latest.id, False) if spec.HasField("readiness_probe") else True
    elif latest.state is ContainerState.EXITED and waiting is None:
        status.state.CopyFrom(terminated_state(latest))
    elif latest.state is ContainerState.EXITED:  # it will restart: waiting, last state is this run
        status.state.CopyFrom(_waiting_state(waiting))
        previous = latest
    else:
        status.state.CopyFrom(_waiting_state(waiting))
    if previous is not None and previous.state is ContainerState.EXITED:
        status.last_state.CopyFrom(terminated_state(previous))
    return status


def pod_phase(spec: pod_pb2.PodSpec, statuses: Sequence[pod_pb2.ContainerStatus]) -> str:
    running = waiting = stopped = succeeded = 0
    for status in statuses:
        if status.state.HasField("running"):
            running += 1
        elif status.state.HasField("terminated"):
            stopped += 1
            succeeded += status.state.terminated.exit_code == 0
        elif status.last_state.HasField("terminated"):
            stopped += 1  # waiting to be restarted
        else:
            waiting += 1
    if waiting:
        return PENDING
    if running:
        return RUNNING
    if stopped:
        policy = restart_policy(spec)
        if policy == ALWAYS:
            return RUNNING
        if stopped == succeeded:
            return SUCCEEDED
        return FAILED if policy == NEVER else RUNNING
    return PENDING


def _set_conditions(
    status: pod_pb2.PodStatus, phase: str, statuses: Sequence[pod_pb2.ContainerStatus], now: float
) -> None:
    """The kubelet's conditions on `status` (which starts as a copy of the old ones: times carry over)."""
    unready = [s.name for s in statuses if not s.ready]
    reason, message = "", ""
    if phase == SUCCEEDED:
        reason = "PodCompleted"
    elif unready:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    ready = "True" if not unready and phase != SUCCEEDED else "False"
    at = timestamp(now)
    set_condition(status.conditions, "PodScheduled", "True", at)
    set_condition(status.conditions, "Initialized", "True", at)
    set_condition(status.conditions, "Ready", ready, at, reason, message)
    set_condition(status.conditions, "ContainersReady", ready, at, reason, message)


def compute_pod_status(
    pod: pod_pb2.Pod,
    *,
    old: pod_pb2.PodStatus,
    sandbox: SandboxInfo | None,
    containers: Sequence[ContainerInfo],
    waiting: Mapping[str, Waiting],
    readiness: Mapping[str, bool],
    host_ip: str,
    now: float,
) -> pod_pb2.PodStatus:
    instances = by_name(containers)
    statuses = [
        container_status(spec, instances.get(spec.name, []), waiting.get(spec.name), readiness)
        for spec in pod.spec.containers
    ]
    phase = old.phase if old.phase in TERMINAL_PHASES else pod_phase(pod.spec, statuses)
    status = pod_pb2.PodStatus(
        phase=phase,
        conditions=old.conditions,
        host_ip=host_ip,
        container_statuses=statuses,
        qos_class=old.qos_class,
    )
    _set_conditions(status, phase, statuses, now)
    status.start_time.CopyFrom(old.start_time if old.HasField("start_time") else timestamp(now))
    pod_ip = sandbox.ip if sandbox is not None and sandbox.ip else old.pod_ip
    if pod_ip:
        status.pod_ip = pod_ip
        status.pod_ips.add(ip=pod_ip)
    return status
