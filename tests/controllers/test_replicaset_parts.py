"""The ReplicaSet controller's pure parts: expectations with a fake clock, and deletion order."""

from __future__ import annotations

from cluster.controllers.replicaset.expectations import Expectations
from cluster.controllers.replicaset.ranking import deletion_order
from tests.controllers.builders import pod


def test_expectations_hold_until_observed_or_expired() -> None:
    now = [0.0]
    expectations = Expectations(ttl=300, clock=lambda: now[0])
    assert expectations.satisfied("default/web")
    expectations.expect_creations("default/web", 2)
    expectations.creation_observed("default/web")
    assert not expectations.satisfied("default/web")  # one still on its way: do not count again
    expectations.creation_observed("default/web")
    assert expectations.satisfied("default/web")
    expectations.expect_deletions("default/web", ["default/a", "default/b"])
    expectations.deletion_observed("default/web", "default/a")
    assert not expectations.satisfied("default/web")
    now[0] = 301  # a deletion that was never observed does not block the ReplicaSet for ever
    assert expectations.satisfied("default/web")
    expectations.forget("default/web")
    assert expectations.satisfied("default/web")


def test_the_cheapest_pods_go_first() -> None:
    pods = [
        pod("old-ready", ready_since=100, created=10),
        pod("new-ready", ready_since=100, created=20),
        pod("recently-ready", ready_since=150, created=5),
        pod("restarting", ready_since=100, created=10, restarts=3),
        pod("not-ready", ready_since=None),
        pod("pending", phase="Pending", ready_since=None),
        pod("unscheduled", node="", phase="Pending", ready_since=None),
    ]
    order = [p.metadata.name for p in deletion_order(pods)]
    assert order == [
        "unscheduled",
        "pending",
        "not-ready",
        "recently-ready",
        "restarting",
        "new-ready",
        "old-ready",
    ]
