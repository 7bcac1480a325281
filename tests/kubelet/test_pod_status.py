"""PodStatus from runtime state: phase, conditions, container statuses, and stable output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agents.kubelet.plan import Waiting
from agents.kubelet.pod_status import compute_pod_status
from agents.kubelet.runtime import ContainerInfo, ContainerState, SandboxInfo
from raykube.v1 import pod_pb2
from tests.kubelet.pods import container, make_pod

UID = "uid-web"
RUNNING, EXITED, CREATED = ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED
SANDBOX = SandboxInfo("sb0", UID, ready=True, ip="10.88.0.7")
CRASH = Waiting("CrashLoopBackOff", "back-off 10s")


def inst(name: str, rc: int, state: ContainerState, exit_code: int = 0, reason: str = "") -> ContainerInfo:
    return ContainerInfo(
        id=f"{name}{rc}",
        pod_uid=UID,
        sandbox_id="sb0",
        name=name,
        restart_count=rc,
        state=state,
        image_id="sha256:abc",
        exit_code=exit_code,
        reason=reason,
        created_at=100.0 + rc,
        started_at=100.0 + rc,
        finished_at=150.0 + rc if state is EXITED else 0.0,
    )


def status(
    containers: list[ContainerInfo],
    *,
    names: tuple[str, ...] = ("c",),
    policy: str = "Always",
    waiting: dict[str, Waiting] | None = None,
    old: pod_pb2.PodStatus | None = None,
    sandbox: SandboxInfo | None = SANDBOX,
    readiness: dict[str, bool] | None = None,
    now: float = 200.0,
    probe_ready: bool = False,
) -> pod_pb2.PodStatus:
    specs = [container(n) for n in names]
    if probe_ready:
        for spec in specs:
            spec.readiness_probe.tcp_socket.port = "80"
    return compute_pod_status(
        make_pod(containers=specs, restart_policy=policy),
        old=old or pod_pb2.PodStatus(),
        sandbox=sandbox,
        containers=containers,
        waiting=waiting or {},
        readiness=readiness or {},
        host_ip="192.168.1.5",
        now=now,
    )


@dataclass
class PhaseCase:
    id: str
    containers: list[ContainerInfo]
    phase: str
    policy: str = "Always"
    names: tuple[str, ...] = ("c",)
    waiting: dict[str, Waiting] | None = None


PHASES = [
    PhaseCase("nothing started yet", [], "Pending"),
    PhaseCase("created, not started", [inst("c", 0, CREATED)], "Pending"),
    PhaseCase("one runs", [inst("c", 0, RUNNING)], "Running"),
    PhaseCase("one runs, one not started", [inst("a", 0, RUNNING)], "Pending", names=("a", "b")),
    PhaseCase("Never, exit 0", [inst("c", 0, EXITED, 0)], "Succeeded", policy="Never"),
    PhaseCase("Never, exit 1", [inst("c", 0, EXITED, 1)], "Failed", policy="Never"),
    PhaseCase(
        "OnFailure, all exit 0",
        [inst("a", 0, EXITED), inst("b", 0, EXITED)],
        "Succeeded",
        "OnFailure",
        ("a", "b"),
    ),
    PhaseCase(
        "OnFailure, one runs one done",
        [inst("a", 0, RUNNING), inst("b", 0, EXITED)],
        "Running",
        "OnFailure",
        ("a", "b"),
    ),
    PhaseCase(
        "OnFailure, failed and backing off",
        [inst("c", 2, EXITED, 1)],
        "Running",
        "OnFailure",
        waiting={"c": CRASH},
    ),
    PhaseCase("Always, exited and backing off", [inst("c", 0, EXITED, 0)], "Running", waiting={"c": CRASH}),
    PhaseCase("Always, all exited", [inst("c", 0, EXITED, 0)], "Running"),
]


@pytest.mark.parametrize("case", PHASES, ids=[c.id for c in PHASES])
def test_phase(case: PhaseCase) -> None:
    assert (
        status(case.containers, names=case.names, policy=case.policy, waiting=case.waiting).phase
        == case.phase
    )


def test_running_container_status() -> None:
    result = status([inst("c", 0, EXITED, 1), inst("c", 1, RUNNING)])
    [c] = result.container_statuses
    assert c.state.running.started_at.seconds == 101
    assert c.last_state.terminated.exit_code == 1 and c.last_state.terminated.reason == "Error"
    assert (c.ready, c.started, c.restart_count) == (True, True, 1)
    assert (c.image, c.image_id, c.container_id) == ("busybox:1.36", "sha256:abc", "podman://c1")
    assert (result.pod_ip, [p.ip for p in result.pod_ips], result.host_ip) == (
        "10.88.0.7",
        ["10.88.0.7"],
        "192.168.1.5",
    )
    assert result.start_time.seconds == 200
    assert {c.type: c.status for c in result.conditions} == {
        "Initialized": "True",
        "Ready": "True",
        "ContainersReady": "True",
        "PodScheduled": "True",
    }


def test_crash_loop_shows_waiting_with_the_last_run_as_last_state() -> None:
    [c] = status([inst("c", 3, EXITED, 2, reason="OOMKilled")], waiting={"c": CRASH}).container_statuses
    assert (c.state.waiting.reason, c.state.waiting.message) == ("CrashLoopBackOff", "back-off 10s")
    terminated = c.last_state.terminated
    assert (terminated.exit_code, terminated.reason, terminated.finished_at.seconds) == (2, "OOMKilled", 153)
    assert (c.restart_count, c.ready, c.started) == (3, False, False)


def test_terminated_for_good_and_completed_pod_conditions() -> None:
    result = status([inst("c", 0, EXITED, 0)], policy="Never")
    [c] = result.container_statuses
    assert (c.state.terminated.reason, c.state.terminated.container_id) == ("Completed", "podman://c0")
    ready = next(x for x in result.conditions if x.type == "Ready")
    assert (ready.status, ready.reason) == ("False", "PodCompleted")


def test_waiting_reason_before_any_instance() -> None:
    [c] = status([], waiting={"c": Waiting("ErrImageNeverPull", "not present")}).container_statuses
    assert (c.state.waiting.reason, c.state.waiting.message) == ("ErrImageNeverPull", "not present")
    [c] = status([]).container_statuses
    assert c.state.waiting.reason == "ContainerCreating"


def test_readiness_probe_gates_ready() -> None:
    unready = status([inst("c", 0, RUNNING)], probe_ready=True)
    assert not unready.container_statuses[0].ready
    ready = next(x for x in unready.conditions if x.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "False",
        "ContainersNotReady",
        "containers with unready status: [c]",
    )
    probed = status([inst("c", 0, RUNNING)], probe_ready=True, readiness={"c0": True}, old=unready, now=260)
    assert probed.container_statuses[0].ready
    ready = next(x for x in probed.conditions if x.type == "Ready")
    assert (ready.status, ready.last_transition_time.seconds) == ("True", 260)
    initialized = next(x for x in probed.conditions if x.type == "Initialized")
    assert initialized.last_transition_time.seconds == 200  # unchanged since first seen


def test_same_world_later_gives_an_equal_status() -> None:
    first = status([inst("c", 0, RUNNING)], now=200)
    assert status([inst("c", 0, RUNNING)], old=first, now=900) == first


def test_terminal_phase_is_never_left_and_pod_ip_outlives_the_sandbox() -> None:
    done = status([inst("c", 0, EXITED, 0)], policy="Never")
    again = status([], policy="Never", old=done, sandbox=None)
    assert again.phase == "Succeeded"
    assert again.pod_ip == "10.88.0.7"
