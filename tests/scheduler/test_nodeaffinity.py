import pytest

from cluster.scheduler.framework import Code, CycleState, NodeTable, PodInfo
from cluster.scheduler.plugins.nodeaffinity import NodeAffinity
from cluster.scheduler.plugins.nodename import NodeName

from .builders import node, node_info, pod

REASON = "node(s) didn't match Pod's node affinity/selector"
NODE = node_info(node("n1", labels={"zone": "a", "disk": "ssd", "cores": "8"}))


def required(*terms):
    return {
        "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}
    }


def expr(key, operator, *values):
    return {"matchExpressions": [{"key": key, "operator": operator, "values": list(values)}]}


@pytest.mark.parametrize(
    ("node_selector", "affinity", "fits"),
    [
        ({"zone": "a"}, None, True),
        ({"zone": "a", "disk": "ssd"}, None, True),
        ({"zone": "b"}, None, False),
        ({"gpu": "yes"}, None, False),
        (None, required(expr("zone", "In", "a", "b")), True),
        (None, required(expr("zone", "NotIn", "a")), False),
        (None, required(expr("gpu", "DoesNotExist")), True),
        (None, required(expr("disk", "Exists")), True),
        (None, required(expr("cores", "Gt", "4")), True),
        (None, required(expr("cores", "Lt", "4")), False),
        (None, required(expr("zone", "In", "b"), expr("disk", "In", "ssd")), True),  # terms are ORed
        (
            None,
            required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]}),
            True,
        ),
        (
            None,
            required({"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}),
            False,
        ),
        (None, required({}), False),  # an empty term matches nothing
        ({"zone": "b"}, required(expr("zone", "In", "a")), False),  # selector AND affinity
    ],
)
def test_filter(node_selector, affinity, fits):
    plugin, state = NodeAffinity(), CycleState()
    incoming = PodInfo(pod("p", node_selector=node_selector, affinity=affinity))
    assert plugin.pre_filter(state, incoming, [NODE]).ok
    status = plugin.filter(state, incoming, NODE)
    assert status.ok is fits
    others = [node_info(node("n2", labels={"zone": "b"})), node_info(node("n3"))]
    table = NodeTable([*others, NODE])  # the vector says the same for every row, this node's included
    assert plugin.filter_vector(state, incoming, table).tolist() == [
        plugin.filter(state, incoming, n).ok for n in table
    ]
    assert plugin.filter_vector(state, incoming, table)[-1] == fits
    subset = table.subset([2, 0])  # a subset reads its parent's label domains, in its own order
    assert plugin.filter_vector(state, incoming, subset).tolist() == [
        fits,
        plugin.filter(state, incoming, table[0]).ok,
    ]
    if not fits:
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (REASON,))


def test_pods_without_selector_or_required_affinity_skip_the_filter():
    assert NodeAffinity().pre_filter(CycleState(), PodInfo(pod("p")), [NODE]).code is Code.SKIP


def test_preferred_terms_score_by_weight():
    plugin, state = NodeAffinity(), CycleState()
    preferred = [
        {"weight": 10, "preference": expr("zone", "In", "a")},
        {"weight": 30, "preference": expr("disk", "In", "ssd")},
    ]
    incoming = PodInfo(
        pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": preferred}})
    )
    nodes = [
        node_info(node("both", labels={"zone": "a", "disk": "ssd"})),
        node_info(node("ssd", labels={"disk": "ssd"})),
        node_info(node("zone", labels={"zone": "a"})),
        node_info(node("none")),
    ]
    assert plugin.pre_score(state, incoming, nodes).ok
    scores = [plugin.score(state, incoming, n) for n in nodes]
    assert scores == [40, 30, 10, 0]
    plugin.normalize_score(state, incoming, scores)
    assert scores == [100, 75, 25, 0]


def test_no_preferred_terms_skip_scoring():
    assert NodeAffinity().pre_score(CycleState(), PodInfo(pod("p")), [NODE]).code is Code.SKIP


def test_node_name():
    plugin, state = NodeName(), CycleState()
    assert plugin.pre_filter(state, PodInfo(pod("p")), [NODE]).code is Code.SKIP
    pinned = PodInfo(pod("p", node_name="n1"))
    assert plugin.pre_filter(state, pinned, [NODE]).ok
    assert plugin.filter(state, pinned, NODE).ok
    other = PodInfo(pod("p", node_name="n2"))
    assert plugin.filter(state, other, NODE).reasons == ("node(s) didn't match the requested node name",)
