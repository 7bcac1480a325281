import pytest

from cluster.scheduler.framework import Code, CycleState, NodeTable, PodInfo
from cluster.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from cluster.scheduler.plugins.tainttoleration import TaintToleration

from .builders import node, node_info, pod

DEDICATED = ("dedicated", "gpu", "NoSchedule")


@pytest.mark.parametrize(
    ("taints", "tolerations", "reason"),
    [
        ([], [], None),
        ([DEDICATED], [], "node(s) had untolerated taint {dedicated: gpu}"),
        ([("evict", "", "NoExecute")], [], "node(s) had untolerated taint {evict: }"),
        ([("soft", "x", "PreferNoSchedule")], [], None),  # only scored
        ([DEDICATED], [{"key": "dedicated", "operator": "Equal", "value": "gpu"}], None),
        ([DEDICATED], [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}], None),
        ([DEDICATED], [{"key": "dedicated", "operator": "Exists"}], None),
        ([DEDICATED], [{"operator": "Exists"}], None),  # tolerates everything
        (
            [DEDICATED],
            [{"key": "dedicated", "value": "cpu"}],
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
        (
            [DEDICATED],
            [{"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}],
            "node(s) had untolerated taint {dedicated: gpu}",
        ),
        (
            [DEDICATED, ("zone", "a", "NoExecute")],
            [{"key": "dedicated", "operator": "Exists"}],
            "node(s) had untolerated taint {zone: a}",
        ),
    ],
)
def test_filter(taints, tolerations, reason):
    status = TaintToleration().filter(
        CycleState(), PodInfo(pod("p", tolerations=tolerations)), node_info(node("n", taints=taints))
    )
    if reason is None:
        assert status.ok
    else:
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (reason,))


def test_score_prefers_fewer_untolerated_prefer_no_schedule_taints():
    plugin, state = TaintToleration(), CycleState()
    incoming = PodInfo(pod("p", tolerations=[{"key": "tolerated", "operator": "Exists"}]))
    nodes = NodeTable(
        [
            node_info(node("clean")),
            node_info(node("one", taints=[("a", "", "PreferNoSchedule")])),
            node_info(node("two", taints=[("a", "", "PreferNoSchedule"), ("b", "", "PreferNoSchedule")])),
            node_info(node("ok", taints=[("tolerated", "", "PreferNoSchedule")])),
        ]
    )
    assert plugin.pre_score(state, incoming, nodes).ok
    scores = [plugin.score(state, incoming, n) for n in nodes]
    assert scores == [0, 1, 2, 0]
    plugin.normalize_score(state, incoming, scores)
    assert scores == [100, 50, 0, 100]


def test_score_is_skipped_when_no_node_prefers_no_schedule():
    nodes = NodeTable([node_info(node("n", taints=[DEDICATED]))])
    assert TaintToleration().pre_score(CycleState(), PodInfo(pod("p")), nodes).code is Code.SKIP


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "fits"),
    [
        (False, [], True),
        (True, [], False),
        (
            True,
            [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}],
            True,
        ),
        (True, [{"operator": "Exists"}], True),
        (
            True,
            [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoExecute"}],
            False,
        ),
    ],
)
def test_node_unschedulable(unschedulable, tolerations, fits):
    status = NodeUnschedulable().filter(
        CycleState(),
        PodInfo(pod("p", tolerations=tolerations)),
        node_info(node("n", unschedulable=unschedulable)),
    )
    assert status.ok is fits
    if not fits:
        assert status.reasons == ("node(s) were unschedulable",)
        assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
