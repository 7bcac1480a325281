"""The pure desired-vs-actual function, as a table: world in, actions out."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from agents.kubelet.backoff import Backoff
from agents.kubelet.plan import KillContainer, PodActions, StartContainer, Waiting, compute_pod_actions
from agents.kubelet.runtime import ContainerInfo, ContainerState, SandboxInfo
from tests.kubelet.pods import container, make_pod

UID = "uid-web"
NOW = 1_000.0
RUNNING, EXITED, CREATED = ContainerState.RUNNING, ContainerState.EXITED, ContainerState.CREATED
SB = SandboxInfo("sb0", UID, ready=True, attempt=0, ip="10.88.0.2", created_at=1)
DEAD_SB = SandboxInfo("sb0", UID, ready=False, attempt=0, created_at=1)


def inst(
    name: str, rc: int, state: ContainerState, exit_code: int = 0, finished: float = 0.0, sandbox: str = "sb0"
) -> ContainerInfo:
    return ContainerInfo(
        id=f"{name}-{rc}",
        pod_uid=UID,
        sandbox_id=sandbox,
        name=name,
        restart_count=rc,
        state=state,
        exit_code=exit_code,
        created_at=float(rc),
        finished_at=finished,
    )


@dataclass
class Case:
    id: str
    sandboxes: list[SandboxInfo]
    containers: list[ContainerInfo]
    expected: PodActions
    policy: str = "Always"
    names: tuple[str, ...] = ("c",)
    unhealthy: frozenset[str] = frozenset()
    backoff: dict[str, float] = field(default_factory=dict)  # container -> when the last restart was recorded


CASES = [
    Case("new pod: sandbox and every container", [], [], PodActions(True, start=(StartContainer("c", 0),))),
    Case(
        "two containers, one already there",
        [SB],
        [inst("a", 0, RUNNING)],
        PodActions(start=(StartContainer("b", 0),)),
        names=("a", "b"),
    ),
    Case("steady state: nothing to do", [SB], [inst("c", 0, RUNNING)], PodActions()),
    Case(
        "Always restarts a success",
        [SB],
        [inst("c", 0, EXITED, 0, finished=990)],
        PodActions(start=(StartContainer("c", 1, backoff_since=990),)),
    ),
    Case("OnFailure keeps a success", [SB], [inst("c", 0, EXITED, 0)], PodActions(), policy="OnFailure"),
    Case(
        "OnFailure restarts a failure",
        [SB],
        [inst("c", 3, EXITED, 2, finished=995)],
        PodActions(start=(StartContainer("c", 4, backoff_since=995),)),
        policy="OnFailure",
    ),
    Case("Never keeps a failure", [SB], [inst("c", 0, EXITED, 1)], PodActions(), policy="Never"),
    Case(
        "inside the back-off: CrashLoopBackOff until it ends",
        [SB],
        [inst("c", 1, EXITED, 1, finished=995)],
        PodActions(
            waiting={
                "c": Waiting(
                    "CrashLoopBackOff",
                    "back-off 10s restarting failed container=c pod=web_default(uid-web)",
                    retry_after=5.0,
                )
            }
        ),
        backoff={"c": 980},
    ),
    Case(
        "back-off over: restart",
        [SB],
        [inst("c", 1, EXITED, 1, finished=985)],
        PodActions(start=(StartContainer("c", 2, backoff_since=985),)),
        backoff={"c": 980},
    ),
    Case(
        "created, never started: start that instance",
        [SB],
        [inst("c", 2, CREATED)],
        PodActions(start=(StartContainer("c", 2, reuse_id="c-2"),)),
    ),
    Case(
        "liveness failed: kill",
        [SB],
        [inst("c", 0, RUNNING)],
        PodActions(kill=(KillContainer("c-0", "c", "Unhealthy"),)),
        unhealthy=frozenset({"c-0"}),
    ),
    Case(
        "keep the newest two instances, remove older dead ones",
        [SB],
        [inst("c", 0, EXITED, 1), inst("c", 1, EXITED, 1), inst("c", 2, RUNNING)],
        PodActions(remove=("c-0",)),
    ),
    Case(
        "an older instance still running is a duplicate",
        [SB],
        [inst("c", 0, RUNNING), inst("c", 1, EXITED), inst("c", 2, RUNNING)],
        PodActions(kill=(KillContainer("c-0", "c", "Duplicate"),), remove=("c-0",)),
    ),
    Case(
        "a container not in the spec goes",
        [SB],
        [inst("c", 0, RUNNING), inst("old", 0, RUNNING)],
        PodActions(kill=(KillContainer("old-0", "old", "NotInSpec"),), remove=("old-0",)),
    ),
    Case(
        "sandbox died: new sandbox, containers restart there, old sandbox kept for history",
        [DEAD_SB],
        [inst("c", 4, RUNNING)],
        PodActions(
            True, kill=(KillContainer("c-4", "c", "SandboxChanged"),), start=(StartContainer("c", 5),)
        ),
    ),
    Case(
        "sandbox died under Never: kill, nothing new",
        [DEAD_SB],
        [inst("c", 0, RUNNING)],
        PodActions(kill=(KillContainer("c-0", "c", "SandboxChanged"),)),
        policy="Never",
    ),
    Case(
        "dead sandbox holding nothing we keep is removed",
        [DEAD_SB, SandboxInfo("sb1", UID, ready=True, attempt=1, created_at=5)],
        [
            inst("c", 0, EXITED, 1),
            inst("c", 1, EXITED, 1, sandbox="sb1"),
            inst("c", 2, RUNNING, sandbox="sb1"),
        ],
        PodActions(remove_sandboxes=("sb0",), remove=("c-0",)),
    ),
    Case(
        "two ready sandboxes: the newest attempt is the pod's",
        [SB, SandboxInfo("sb1", UID, ready=True, attempt=1, created_at=5)],
        [inst("c", 0, RUNNING, sandbox="sb1")],
        PodActions(remove_sandboxes=("sb0",)),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compute_pod_actions(case: Case) -> None:
    pod = make_pod(containers=[container(n) for n in case.names], restart_policy=case.policy)
    backoff = Backoff()
    for name, since in case.backoff.items():
        backoff.next(f"{UID}/{name}", since)
    actions = compute_pod_actions(
        pod, case.sandboxes, case.containers, backoff=backoff, now=NOW, unhealthy=case.unhealthy
    )
    next_attempt = max((s.attempt for s in case.sandboxes), default=-1) + 1
    assert actions == dataclasses.replace(case.expected, sandbox_attempt=next_attempt)


def test_retry_after_is_the_shortest_wait() -> None:
    actions = PodActions(waiting={"a": Waiting("X", retry_after=7.0), "b": Waiting("Y", retry_after=3.0)})
    assert actions.retry_after == 3.0
    assert PodActions(waiting={"a": Waiting("ErrImageNeverPull")}).retry_after is None
