import pytest

from cluster.scheduler.framework import MAX_NODE_SCORE, Code, CycleState, NodeTable, PodInfo
from cluster.scheduler.plugins.noderesources import BalancedAllocation, Fit

from .builders import node, node_info, pod


@pytest.mark.parametrize(
    ("incoming", "existing", "reasons"),
    [
        (pod("p", cpu="1", memory="1Gi"), [], ()),
        (pod("p", cpu="4", memory="8Gi"), [], ()),  # exactly fills the node
        (pod("p", cpu="1"), [pod("e", cpu="3500m")], ("Insufficient cpu",)),
        (pod("p", memory="1Gi"), [pod("e", memory="7.5Gi")], ("Insufficient memory",)),
        (pod("p", cpu="5", memory="9Gi"), [], ("Insufficient cpu", "Insufficient memory")),
        (pod("p", cpu="2", containers=3), [], ("Insufficient cpu",)),  # containers add up
        (pod("p"), [pod("e", cpu="4", memory="8Gi")], ()),  # no requests: only the pod count counts
        (pod("p"), [pod("e1"), pod("e2")], ("Too many pods",)),
    ],
)
def test_fit_filter(incoming, existing, reasons):
    info = node_info(node("n", cpu="4", memory="8Gi", pods="2"), *existing)
    status = Fit({}).filter(CycleState(), PodInfo(incoming), info)
    assert status.reasons == reasons
    assert status.code is (Code.UNSCHEDULABLE if reasons else Code.SUCCESS)


def test_least_allocated_prefers_the_emptier_node():
    plugin, incoming = Fit({}), PodInfo(pod("p", cpu="1", memory="1Gi"))
    empty = node_info(node("empty"))
    half = node_info(node("half"), pod("e", cpu="2", memory="4Gi"))
    full = node_info(node("full"), pod("e", cpu="4", memory="8Gi"))
    scores = plugin.score_vector(CycleState(), incoming, NodeTable([empty, half, full]))
    assert scores.tolist() == [(75 + 87) // 2, (25 + 37) // 2, 0]


def test_most_allocated_packs():
    plugin, incoming = Fit({"scoring_strategy": "MostAllocated"}), PodInfo(pod("p", cpu="1", memory="1Gi"))
    empty, half = node_info(node("empty")), node_info(node("half"), pod("e", cpu="2", memory="4Gi"))
    scores = plugin.score_vector(CycleState(), incoming, NodeTable([half, empty]))
    assert scores[0] > scores[1]


def test_pods_without_requests_count_the_non_zero_defaults_for_scoring():
    plugin, incoming = Fit({}), PodInfo(pod("p"))
    empty = node_info(node("a", cpu="1", memory="1Gi"))
    busy = node_info(node("b", cpu="1", memory="1Gi"), pod("e1"), pod("e2"))
    # 100m of 1000m and 200Mi of 1Gi used by the incoming pod alone; 300m/600Mi with two more
    scores = plugin.score_vector(CycleState(), incoming, NodeTable([empty, busy]))
    assert scores.tolist() == [(90 + 80) // 2, (70 + 41) // 2]


def test_fit_rejects_bad_args():
    with pytest.raises(ValueError, match="scoring_strategy"):
        Fit({"scoring_strategy": "Random"})
    with pytest.raises(ValueError, match="resource_weights"):
        Fit({"resource_weights": {"cpu": 0, "memory": 0}})


def test_balanced_allocation_prefers_even_use():
    plugin, incoming = BalancedAllocation(), PodInfo(pod("p", cpu="1", memory="2Gi"))
    even = node_info(node("even"))  # 1/4 cpu, 2/8 memory
    skewed = node_info(node("skewed"), pod("e", cpu="2"))  # 3/4 cpu, 2/8 memory
    scores = plugin.score_vector(CycleState(), incoming, NodeTable([even, skewed]))
    assert scores.tolist() == [MAX_NODE_SCORE, 75]


def test_balanced_allocation_skips_pods_without_requests():
    plugin = BalancedAllocation()
    assert plugin.pre_score(CycleState(), PodInfo(pod("p")), []).code is Code.SKIP
    assert plugin.pre_score(CycleState(), PodInfo(pod("p", cpu="1")), []).ok
