import random
from collections import Counter
from dataclasses import dataclass, field

import pytest

from cluster.scheduler.decide import decide, fit_error_message, nodes_to_find, select_host
from cluster.scheduler.framework import (
    SKIP,
    SUCCESS,
    ClusterEvent,
    Code,
    CycleState,
    Diagnosis,
    Framework,
    FrameworkConfig,
    Handle,
    Status,
    error,
    merge,
    unresolvable,
    unschedulable,
)
from cluster.scheduler.framework.pod_info import PodInfo
from cluster.scheduler.plugins import default_registry

from .builders import node, node_info, pod


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], SUCCESS),
        ([SUCCESS, SKIP], SUCCESS),
        ([unschedulable("a").by("A"), SUCCESS], Status(Code.UNSCHEDULABLE, ("a",), "A")),
        (
            [unschedulable("a").by("A"), unresolvable("b").by("B")],
            Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("a", "b"), "B"),
        ),
        (
            [unschedulable("a").by("A"), unschedulable("b").by("B")],
            Status(Code.UNSCHEDULABLE, ("a", "b"), ""),
        ),
        ([error("x").by("E"), unresolvable("b").by("B")], Status(Code.ERROR, ("x", "b"), "E")),
    ],
)
def test_merge(statuses, expected):
    assert merge(statuses) == expected


@dataclass
class Fake:
    """A plugin at every extension point, answering from tables and recording calls."""

    name: str
    pre_filter_status: Status = SUCCESS
    rejects: dict[str, Status] = field(default_factory=dict)  # node -> filter status
    points: dict[str, int] = field(default_factory=dict)  # node -> raw score
    reserve_status: Status = SUCCESS
    post_filter_status: Status = SKIP
    calls: list[str] = field(default_factory=list)

    def pre_filter(self, state, pod, nodes):
        return self.pre_filter_status

    def filter(self, state, pod, node):
        self.calls.append(f"filter {node.name}")
        return self.rejects.get(node.name, SUCCESS)

    def post_filter(self, state, pod, statuses):
        self.calls.append(f"post_filter {sorted(statuses)}")
        return self.post_filter_status

    def pre_score(self, state, pod, nodes):
        return SUCCESS

    def score(self, state, pod, node):
        return self.points.get(node.name, 0)

    def normalize_score(self, state, pod, scores):
        scores[:] = [s * 2 for s in scores]

    def reserve(self, state, pod, node_name):
        self.calls.append(f"reserve {node_name}")
        return self.reserve_status

    def unreserve(self, state, pod, node_name):
        self.calls.append(f"unreserve {node_name}")

    async def bind(self, state, pod, node_name):
        return SKIP

    def events(self):
        return frozenset({ClusterEvent.NODE_ADDED})


def returning(plugin):
    return lambda args, handle: plugin


def framework(*plugins, weights=None) -> Framework:
    registry = {p.name: returning(p) for p in plugins}
    registry["DefaultBinder"] = default_registry()["DefaultBinder"]
    config = FrameworkConfig(
        plugins=(*(p.name for p in plugins), "DefaultBinder"), score_weights=weights or {}
    )
    return Framework(config, registry, Handle(binder=None, nodes=list))  # type: ignore[arg-type]


NODES = [node_info(node(n)) for n in ("n1", "n2", "n3")]
POD = PodInfo(pod("p"))


def test_config_is_validated():
    with pytest.raises(ValueError, match="not enabled"):
        FrameworkConfig(plugins=("A",), score_weights={"B": 1})
    with pytest.raises(ValueError, match="must be positive"):
        FrameworkConfig(plugins=("A",), score_weights={"A": 0})
    with pytest.raises(ValueError, match="duplicate"):
        FrameworkConfig(plugins=("A", "A"), score_weights={})
    with pytest.raises(ValueError, match="unknown scheduler plugins: Nope"):
        Framework(FrameworkConfig(plugins=("Nope",), score_weights={}), default_registry(), None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no bind plugin"):
        Framework(
            FrameworkConfig(plugins=("NodeName",), score_weights={}),
            default_registry(),
            Handle(binder=None, nodes=list),
        )  # type: ignore[arg-type]


def test_the_default_config_builds_every_default_plugin():
    fw = Framework(FrameworkConfig(), default_registry(), Handle(binder=None, nodes=list))  # type: ignore[arg-type]
    assert [p.name for p in fw.plugins] == list(FrameworkConfig().plugins)


def test_first_rejecting_filter_decides_per_node():
    a = Fake("A", rejects={"n1": unschedulable("a says no")})
    b = Fake("B", rejects={"n1": unschedulable("b says no"), "n2": unresolvable("b hates n2")})
    diagnosis = Diagnosis()
    feasible, _, status = framework(a, b).filter_nodes(CycleState(), POD, NODES, diagnosis)
    assert status.ok and [n.name for n in feasible] == ["n3"]
    assert diagnosis.node_statuses == {
        "n1": Status(Code.UNSCHEDULABLE, ("a says no",), "A"),
        "n2": Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("b hates n2",), "B"),
    }
    assert "filter n1" not in b.calls
    assert diagnosis.rejectors() == {"A", "B"}


def test_a_filter_error_aborts_the_attempt():
    fw = framework(Fake("A", rejects={"n2": error("boom")}))
    feasible, _, status = fw.filter_nodes(CycleState(), POD, NODES, Diagnosis())
    assert (list(feasible), status) == ([], Status(Code.ERROR, ("boom",), "A"))


def test_pre_filter_skip_removes_the_plugins_filter_for_this_cycle():
    skipper = Fake("A", pre_filter_status=SKIP, rejects={"n1": unschedulable("no")})
    fw, state = framework(skipper), CycleState()
    assert fw.run_pre_filter(state, POD, NODES).ok
    feasible, _, _ = fw.filter_nodes(state, POD, NODES, Diagnosis())
    assert len(feasible) == 3 and skipper.calls == []


def test_pre_filter_rejections_merge_and_unresolvable_stops_early():
    a, b = Fake("A", pre_filter_status=unschedulable("a")), Fake("B", pre_filter_status=unschedulable("b"))
    assert framework(a, b).run_pre_filter(CycleState(), POD, NODES) == Status(Code.UNSCHEDULABLE, ("a", "b"))
    c = Fake("C", pre_filter_status=unresolvable("c"))
    assert framework(c, a).run_pre_filter(CycleState(), POD, NODES).reasons == ("c",)


def test_scores_are_normalized_then_weighted():
    a = Fake("A", points={"n1": 10, "n2": 40})
    b = Fake("B", points={"n3": 50})
    totals, status = framework(a, b, weights={"A": 2, "B": 1}).score_nodes(CycleState(), POD, NODES)
    assert status.ok and totals.tolist() == [40, 160, 100]  # A doubled by normalize, then x2; B doubled


def test_out_of_range_scores_are_an_error():
    _, status = framework(Fake("A", points={"n1": 60}), weights={"A": 1}).score_nodes(
        CycleState(), POD, NODES
    )
    assert status.code is Code.ERROR and "A scored outside 0..100" in status.message()


def test_failed_reserve_unreserves_the_ones_before():
    a, b = Fake("A"), Fake("B", reserve_status=error("full"))
    status = framework(a, b).run_reserve(CycleState(), POD, "n1")
    assert status == Status(Code.ERROR, ("full",), "B")
    assert a.calls == ["reserve n1", "unreserve n1"] and b.calls == ["reserve n1"]


def test_plugins_name_the_events_they_care_about():
    fw = Framework(FrameworkConfig(), default_registry(), Handle(binder=None, nodes=list))  # type: ignore[arg-type]
    assert fw.interested(ClusterEvent.POD_ASSIGNED) == {"PodTopologySpread", "InterPodAffinity"}
    assert fw.interested(ClusterEvent.ASSIGNED_POD_DELETED) == {
        "NodePorts",
        "NodeResourcesFit",
        "PodTopologySpread",
        "InterPodAffinity",
    }
    assert "TaintToleration" in fw.interested(ClusterEvent.NODE_CHANGED)


def test_unschedulable_message_counts_reasons_like_kube_scheduler():
    diagnosis = Diagnosis(
        node_statuses={
            "n1": unschedulable("Insufficient cpu", "Insufficient memory"),
            "n2": unschedulable("Insufficient memory"),
            "n3": unresolvable("node(s) had untolerated taint {dedicated: gpu}"),
        }
    )
    assert fit_error_message(3, diagnosis) == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu},"
        " 2 Insufficient memory."
    )
    by_pre_filter = Diagnosis(pre_filter=unschedulable("pod has unbound claims"))
    assert fit_error_message(2, by_pre_filter) == "0/2 nodes are available: pod has unbound claims."


def test_ties_are_broken_uniformly_by_the_injected_random():
    rng = random.Random(7)
    picks = Counter(select_host(NODES, [5, 9, 9], rng).name for _ in range(3000))
    assert set(picks) == {"n2", "n3"} and abs(picks["n2"] - picks["n3"]) < 300


def test_decide_without_nodes():
    fw = framework(Fake("A"))
    decision = decide(fw, CycleState(), POD, [], random.Random(0))
    assert decision.status.message() == "no nodes available to schedule pods"


def test_plugins_without_settings_reject_args():
    config = FrameworkConfig(plugin_args={"TaintToleration": {"weight": 3}})
    with pytest.raises(ValueError, match="TaintToleration takes no args, got: weight"):
        Framework(config, default_registry(), Handle(binder=None, nodes=list))  # type: ignore[arg-type]


def test_post_filter_runs_when_nothing_fits_and_its_message_is_reported():
    no = unschedulable("no")
    preempt = Fake(
        "A",
        rejects={"n1": no, "n2": no, "n3": no},
        post_filter_status=unschedulable("preemption: not helpful"),
    )
    decision = decide(framework(preempt), CycleState(), POD, NODES, random.Random(0))
    assert decision.status.message() == "0/3 nodes are available: 3 no. preemption: not helpful."
    assert decision.rejected_by == {"A"} and preempt.calls[-1] == "post_filter ['n1', 'n2', 'n3']"


@pytest.mark.parametrize(
    ("total", "percentage", "expected"),
    [
        (50, 0, 50),  # small clusters: every node
        (100, 0, 100),
        (101, 0, 100),  # 50% adaptive, but never fewer than 100
        (1000, 0, 420),  # 50% - 8%
        (5000, 0, 500),  # 50% - 40% = 10%
        (20000, 0, 1000),  # adaptive floor: 5%
        (5000, 30, 1500),
        (5000, 100, 5000),
    ],
)
def test_enough_feasible_nodes_follows_percentage_of_nodes_to_score(total, percentage, expected):
    assert nodes_to_find(total, percentage) == expected


def test_filtering_stops_at_enough_nodes_and_the_next_decision_starts_after_them():
    nodes = [node_info(node(f"n{i:03}")) for i in range(300)]
    fw = Framework(FrameworkConfig(), default_registry(), Handle(binder=None, nodes=lambda: nodes))  # type: ignore[arg-type]
    first = decide(fw, CycleState(), PodInfo(pod("a")), nodes, random.Random(0), percentage=40)
    assert first.looked == first.feasible == 120 and int(first.node[1:]) < 120
    second = decide(fw, CycleState(), PodInfo(pod("b")), nodes, random.Random(0), start=250, percentage=40)
    assert second.looked == 120 and not 70 <= int(second.node[1:]) < 250  # 250..299, then 0..69
