"""PodTopologySpread, table-driven: which nodes a spread pod fits, how it scores, and that the
scheduler's decisions keep a spread even."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.api import codec
from cluster.scheduler.cache import Cache
from cluster.scheduler.decide import decide
from cluster.scheduler.framework import (
    Code,
    CycleState,
    Framework,
    FrameworkConfig,
    Handle,
    NodeInfo,
    PodInfo,
)
from cluster.scheduler.framework.topology import scan
from cluster.scheduler.plugins import default_registry
from cluster.scheduler.plugins.podtopologyspread import PodTopologySpread
from cluster.scheduler.plugins.podtopologyspread.constraints import Spread, count_domains, parse
from raykube.v1 import pod_pb2

from . import test_node_table as tn
from .builders import node, node_info, pod

ZONE = "topology.kubernetes.io/zone"


def spread_pod(name: str, *constraints: dict[str, Any], **kw: Any) -> pod_pb2.Pod:
    obj = pod(name, labels=kw.pop("labels", {"app": "web"}), **kw)
    for c in constraints:
        obj.spec.topology_spread_constraints.append(codec.decode(c, pod_pb2.TopologySpreadConstraint))
    return obj


def constraint(max_skew: int = 1, action: str = "DoNotSchedule", **fields: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": ZONE, "whenUnsatisfiable": action,
            "labelSelector": {"matchLabels": {"app": "web"}}, **fields}  # fmt: skip


def web(name: str, **kw: Any) -> pod_pb2.Pod:
    return pod(name, labels=kw.pop("labels", {"app": "web"}), **kw)


def zones(counts: dict[str, int], **extra: Any) -> list[NodeInfo]:
    """One node per zone ("n-<zone>") with `counts[zone]` web pods on it."""
    return [
        node_info(
            node(f"n-{zone}", **{"labels": {ZONE: zone}, **extra.get(zone, {})}),
            *(web(f"{zone}{i}") for i in range(n)),
        )
        for zone, n in counts.items()
    ]


def fits(incoming: pod_pb2.Pod, nodes: list[NodeInfo]) -> dict[str, str | None]:
    """node name -> None if the pod fits it, else the first reason."""
    plugin, state, info = PodTopologySpread(Handle(None, lambda: nodes)), CycleState(), PodInfo(incoming)  # type: ignore[arg-type]
    assert plugin.pre_filter(state, info, nodes).ok
    result: dict[str, str | None] = {}
    for n in nodes:
        status = plugin.filter(state, info, n)
        result[n.name] = None if status.ok else status.reasons[0]
    return result


SKEWED = "node(s) didn't match pod topology spread constraints"


@pytest.mark.parametrize(
    ("case", "incoming", "nodes", "expected"),
    [
        ("max skew 1: only the emptiest zone", spread_pod("p", constraint(1)), zones({"a": 2, "b": 1, "c": 0}),
         {"n-a": SKEWED, "n-b": SKEWED, "n-c": None}),
        ("max skew 2", spread_pod("p", constraint(2)), zones({"a": 2, "b": 1, "c": 0}),
         {"n-a": SKEWED, "n-b": None, "n-c": None}),
        ("a pod its selector does not match adds nothing to its domain",
         spread_pod("p", constraint(1), labels={"app": "db"}), zones({"a": 1, "b": 0}), {"n-a": None, "n-b": None}),
        ("fewer domains than minDomains: the minimum counts as 0", spread_pod("p", constraint(1, minDomains=4)),
         zones({"a": 1, "b": 1, "c": 1}), {"n-a": SKEWED, "n-b": SKEWED, "n-c": SKEWED}),
        ("enough domains", spread_pod("p", constraint(1, minDomains=3)), zones({"a": 1, "b": 1, "c": 1}),
         {"n-a": None, "n-b": None, "n-c": None}),
        ("nodeAffinityPolicy Honor: a zone the pod may not use is not counted",
         spread_pod("p", constraint(1), node_selector={"disk": "ssd"}),
         zones({"a": 1, "b": 2, "c": 0}, a={"labels": {ZONE: "a", "disk": "ssd"}}, b={"labels": {ZONE: "b", "disk": "ssd"}}),
         {"n-a": None, "n-b": SKEWED, "n-c": None}),
        ("nodeAffinityPolicy Ignore: it is", spread_pod("p", constraint(1, nodeAffinityPolicy="Ignore"), node_selector={"disk": "ssd"}),
         zones({"a": 1, "b": 2, "c": 0}, a={"labels": {ZONE: "a", "disk": "ssd"}}, b={"labels": {ZONE: "b", "disk": "ssd"}}),
         {"n-a": SKEWED, "n-b": SKEWED, "n-c": None}),
        ("nodeTaintsPolicy Honor: a tainted zone is not counted", spread_pod("p", constraint(1, nodeTaintsPolicy="Honor")),
         zones({"a": 1, "b": 1, "c": 0}, c={"taints": [("foo", "", "NoSchedule")]}),
         {"n-a": None, "n-b": None, "n-c": None}),
        ("... and neither is a cordoned one", spread_pod("p", constraint(1, nodeTaintsPolicy="Honor")),
         zones({"a": 1, "b": 1, "c": 0}, c={"unschedulable": True}), {"n-a": None, "n-b": None, "n-c": None}),
        ("nodeTaintsPolicy Ignore: both are", spread_pod("p", constraint(1)),
         zones({"a": 1, "b": 1, "c": 0}, c={"unschedulable": True}), {"n-a": SKEWED, "n-b": SKEWED, "n-c": None}),
        ("matchLabelKeys narrows the selector to the pod's own values",
         spread_pod("p", constraint(1, matchLabelKeys=["version"]), labels={"app": "web", "version": "2"}),
         zones({"a": 2, "b": 0}), {"n-a": None, "n-b": None}),
    ],
)  # fmt: skip
def test_filter(
    case: str, incoming: pod_pb2.Pod, nodes: list[NodeInfo], expected: dict[str, str | None]
) -> None:
    assert fits(incoming, nodes) == expected


def test_a_node_without_the_topology_key_never_fits_and_other_namespaces_and_terminating_pods_do_not_count():
    leaving = web("leaving")
    leaving.metadata.deletion_timestamp.FromDatetime(datetime.now(UTC))
    nodes = [
        node_info(node("n-a", labels={ZONE: "a"}), web("x", namespace="other"), leaving),
        node_info(node("n-b", labels={ZONE: "b"}), web("y")),
        node_info(node("bare")),
    ]
    assert fits(spread_pod("p", constraint(1)), nodes) == {  # zone a counts 0 pods, zone b 1
        "n-a": None,
        "n-b": SKEWED,
        "bare": "node(s) didn't match pod topology spread constraints (missing required label)",
    }


def test_schedule_anyway_prefers_emptier_domains_and_ignores_nodes_without_the_key():
    nodes = [*zones({"a": 3, "b": 1, "c": 0}), node_info(node("bare"))]
    plugin, state, info = (
        PodTopologySpread(Handle(None, lambda: nodes)),
        CycleState(),
        PodInfo(spread_pod("p", constraint(1, "ScheduleAnyway"))),
    )  # type: ignore[arg-type]
    assert plugin.pre_filter(state, info, nodes).code is Code.SKIP  # no hard constraint
    assert plugin.pre_score(state, info, nodes).ok
    scores = [plugin.score(state, info, n) for n in nodes]
    plugin.normalize_score(state, info, scores)
    by_node = dict(zip((n.name for n in nodes), scores, strict=True))
    assert by_node["n-c"] == 100 and by_node["n-c"] > by_node["n-b"] > by_node["n-a"] and by_node["bare"] == 0


def test_the_scheduler_keeps_six_pods_spread_two_per_zone():
    cache = Cache()
    for i, zone in enumerate("aabbcc"):
        cache.set_node(node(f"n{i}", labels={ZONE: zone}))
    handle = Handle(None, cache.nodes)  # type: ignore[arg-type]
    fw = Framework(FrameworkConfig(), default_registry(), handle)
    placed = []
    for i in range(6):
        incoming = PodInfo(spread_pod(f"p{i}", constraint(1)))
        decision = decide(fw, CycleState(), incoming, cache.nodes(), random.Random(i))
        assert decision.status.ok, decision.status.message()
        cache.assume(incoming, decision.node)
        placed.append(cache.node(decision.node).labels[ZONE])  # type: ignore[union-attr]
    assert sorted(placed) == ["a", "a", "b", "b", "c", "c"]
    seventh = decide(
        fw, CycleState(), PodInfo(spread_pod("p6", constraint(1))), cache.nodes(), random.Random(0)
    )
    assert seventh.status.ok  # every zone at 2: any of them


class _Walked(Spread):
    """The same constraints, counted by walking every node (never from the cache's counts)."""

    def indexable(self) -> bool:
        return False


@settings(max_examples=300, deadline=None)
@given(
    tn.nodes(),
    st.sampled_from(["Honor", "Ignore"]),
    st.lists(st.sampled_from([*tn.TOLERATIONS, tn.UNSCHEDULABLE]), unique_by=str, max_size=3),
)
def test_counts_from_the_cache_are_what_walking_the_nodes_finds(infos, taints_policy, tolerations):
    """Zones with tainted, cordoned and unlabelled nodes, pods matching or not on any of them."""
    spread_constraint = {
        **constraint(1, nodeTaintsPolicy=taints_policy),
        "labelSelector": {"matchLabels": tn.BLUE},
    }
    incoming = PodInfo(spread_pod("p", spread_constraint, labels=tn.BLUE, tolerations=tolerations))
    spread = parse(incoming, "DoNotSchedule")
    assert spread is not None and spread.indexable()
    walked = _Walked(spread.constraints, spread.required, spread.tolerations)
    topology = scan(infos)
    assert count_domains(spread, incoming, infos, topology) == count_domains(
        walked, incoming, infos, topology
    )
