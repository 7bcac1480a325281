"""The Deployment's arithmetic and status, and the ReplicaSet's, as pure functions (table tests)."""

from __future__ import annotations

import pytest

from cluster.api import wellknown
from cluster.controllers.deployment import rollout
from cluster.controllers.deployment.controller import deployment_status
from cluster.controllers.replicaset.controller import replica_set_status
from cluster.errors import Unavailable
from raykube.v1 import apps_pb2
from tests.controllers.builders import deployment, pod, replica_set


def rolling(replicas: int, surge: str, unavailable: str) -> apps_pb2.Deployment:
    d = deployment(replicas)
    d.spec.strategy.rolling_update.max_surge = surge
    d.spec.strategy.rolling_update.max_unavailable = unavailable
    return d


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [
        (4, "25%", "25%", (1, 1)),
        (3, "25%", "25%", (1, 0)),  # surge rounds up, unavailability down
        (10, "25%", "25%", (3, 2)),
        (3, "0", "0%", (0, 1)),  # never both zero: a rollout must be able to move
        (3, "2", "5", (2, 3)),  # unavailability is at most every pod
        (1, "100%", "100%", (1, 1)),
    ],
)
def test_surge_and_unavailable(
    replicas: int, surge: str, unavailable: str, expected: tuple[int, int]
) -> None:
    assert rollout.surge_and_unavailable(rolling(replicas, surge, unavailable)) == expected


def sets(*counts: tuple[int, int]) -> list[apps_pb2.ReplicaSet]:
    """ReplicaSets with (spec.replicas, status.availableReplicas)."""
    made = []
    for i, (spec, available) in enumerate(counts):
        rs = replica_set(spec, name=f"rs-{i}")
        rs.status.replicas = rs.status.ready_replicas = rs.status.available_replicas = available
        made.append(rs)
    return made


@pytest.mark.parametrize(
    ("counts", "new_now", "expected"),
    [
        ([(3, 3), (0, 0)], 0, 1),  # 3 old + room for 1 surge pod
        ([(3, 3), (1, 0)], 1, 1),  # at replicas + surge already: stay
        ([(2, 2), (1, 1)], 1, 2),  # an old pod went: one more new
        ([(0, 0), (3, 3)], 3, 3),  # done
    ],
)
def test_how_far_the_new_replica_set_scales_up(
    counts: list[tuple[int, int]], new_now: int, expected: int
) -> None:
    d = rolling(3, "1", "0")
    assert rollout.new_replicas(d, sets(*counts), new_now) == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([(3, 3), (1, 0)], 0),  # the new pod is not available yet: no old pod may go
        ([(3, 3), (1, 1)], 1),  # it is: one old pod may go
        ([(2, 2), (2, 2)], 1),
    ],
)
def test_how_far_old_replica_sets_scale_down(counts: list[tuple[int, int]], expected: int) -> None:
    d = rolling(3, "1", "0")
    all_sets = sets(*counts)
    assert rollout.old_scale_down_budget(d, all_sets, all_sets[-1]) == expected


def test_the_template_hash_is_stable_and_ignores_its_own_label() -> None:
    d = deployment()
    first = rollout.template_hash(d.spec.template)
    assert first == rollout.template_hash(d.spec.template) and set(first) <= set(
        "bcdfghjklmnpqrstvwxz2456789"
    )
    assert rollout.template_hash(d.spec.template, collision_count=1) != first
    rs = replica_set()
    rs.spec.template.CopyFrom(d.spec.template)
    rs.spec.template.metadata.labels[wellknown.POD_TEMPLATE_HASH] = first
    assert rollout.same_template(rs, d)
    d.spec.template.spec.containers[0].image = "busybox:1.36"
    assert not rollout.same_template(rs, d) and rollout.template_hash(d.spec.template) != first


def test_deployment_conditions_follow_progress_and_its_deadline() -> None:
    d = deployment(3)
    d.spec.progress_deadline_seconds = 60
    new = sets((3, 1))[0]
    status = deployment_status(d, [new], new, now=1000, progressed=True)
    assert (status.available_replicas, status.unavailable_replicas, status.updated_replicas) == (1, 2, 1)
    available = {c.type: c for c in status.conditions}["Available"]
    assert (available.status, available.reason) == ("False", "MinimumReplicasUnavailable")
    d.status.CopyFrom(status)
    stuck = deployment_status(d, [new], new, now=1030, progressed=False)
    assert {c.type: c.reason for c in stuck.conditions}["Progressing"] == "NewReplicaSetCreated"
    d.status.CopyFrom(stuck)
    late = deployment_status(d, [new], new, now=1061, progressed=False)
    progressing = {c.type: c for c in late.conditions}["Progressing"]
    assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")
    done = sets((3, 3))[0]
    d.status.CopyFrom(late)
    finished = deployment_status(d, [done], done, now=1100, progressed=False)
    conditions = {c.type: (c.status, c.reason) for c in finished.conditions}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"),
                          "Progressing": ("True", "NewReplicaSetAvailable")}  # fmt: skip


def test_replica_set_status_counts_ready_and_available_pods() -> None:
    rs = replica_set(3, min_ready=30)
    pods = [pod("a", ready_since=100), pod("b", ready_since=190), pod("c", ready_since=None)]
    pods[2].metadata.labels["app"] = "other"
    status = replica_set_status(rs, pods, None, now=200)
    assert (
        status.replicas,
        status.fully_labeled_replicas,
        status.ready_replicas,
        status.available_replicas,
    ) == (3, 2, 2, 1)
    assert status.observed_generation == 1 and not status.conditions
    failed = replica_set_status(rs, pods[:1], Unavailable("quota"), now=200)
    [condition] = failed.conditions
    assert (condition.type, condition.status, condition.reason) == ("ReplicaFailure", "True", "FailedCreate")
