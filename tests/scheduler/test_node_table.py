"""The NodeTable and the vector filters and scores: every node at once must give what asking the
plugins node by node gives, and the cache's table must follow every change to its NodeInfos."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    CycleState,
    Diagnosis,
    FilterPlugin,
    Framework,
    FrameworkConfig,
    Handle,
    NodeTable,
    PodInfo,
)
from cluster.scheduler.framework.node_table import COLUMNS
from cluster.scheduler.plugins import default_registry
from cluster.scheduler.plugins.noderesources import BalancedAllocation, Fit
from raykube.v1.pod_pb2 import Toleration

from .builders import node, node_info, pod

TAINTS = [("dedicated", "gpu", "NoSchedule"), ("spot", "", "NoExecute"), ("slow", "", "PreferNoSchedule")]
DEDICATED_TOLERATION = Toleration(key="dedicated", operator="Exists")
UNSCHEDULABLE = {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}
ZONE, BLUE = "topology.kubernetes.io/zone", {"color": "blue"}
TOLERATIONS = [
    {"key": "dedicated", "operator": "Equal", "value": "gpu"},
    {"key": "spot", "operator": "Exists"},
]


@st.composite
def nodes(draw):
    """1-12 small nodes, some full, some tainted or cordoned, some without cpu or memory."""
    infos = []
    for i in range(draw(st.integers(1, 12))):
        cpu = draw(st.sampled_from(["0", "1", "2"]))
        memory = draw(st.sampled_from(["0", "1Gi", "2Gi"]))
        taints = draw(st.lists(st.sampled_from(TAINTS), unique=True, max_size=2))
        zone = draw(st.sampled_from([{}, {ZONE: "z1"}, {ZONE: "z2"}]))
        obj = node(f"n{i}", cpu=cpu, memory=memory, pods=draw(st.sampled_from(["1", "2", "3"])),
                   taints=taints, unschedulable=draw(st.booleans()), labels=zone)  # fmt: skip
        existing = [pod(f"e{i}-{j}", cpu=draw(st.sampled_from([None, "500m", "1"])),
                        memory=draw(st.sampled_from([None, "512Mi"])),
                        labels=draw(st.sampled_from([{}, BLUE])))
                    for j in range(draw(st.integers(0, 2)))]  # fmt: skip
        infos.append(node_info(obj, *existing))
    return infos


@st.composite
def pods(draw):
    tolerations = draw(st.lists(st.sampled_from([*TOLERATIONS, UNSCHEDULABLE]), unique_by=str, max_size=3))
    incoming = pod("p", cpu=draw(st.sampled_from([None, "100m", "1500m"])),
                   memory=draw(st.sampled_from([None, "1Gi"])), tolerations=tolerations, labels=BLUE)  # fmt: skip
    zones = st.lists(st.sampled_from(["z1", "z2", "z3"]), min_size=1, max_size=2, unique=True)
    placement = draw(st.sampled_from(["anywhere", "selector", "in", "notin", "exists", "absent", "terms"]))
    if placement == "selector":
        incoming.spec.node_selector[ZONE] = draw(st.sampled_from(["z1", "z2"]))
    elif placement != "anywhere":
        required = incoming.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        operators = {"in": "In", "notin": "NotIn", "exists": "Exists", "absent": "DoesNotExist"}
        for _ in range(2 if placement == "terms" else 1):  # several terms: any one may match
            operator = operators.get(placement) or draw(st.sampled_from(["In", "NotIn"]))
            values = draw(zones) if operator in ("In", "NotIn") else []
            required.node_selector_terms.add().match_expressions.add(
                key=ZONE, operator=operator, values=values
            )
    if draw(st.booleans()):  # spread over zones, within maxSkew of each other
        incoming.spec.topology_spread_constraints.add(
            max_skew=draw(st.integers(1, 2)), topology_key=ZONE, when_unsatisfiable="DoNotSchedule"
        ).label_selector.match_labels.update(BLUE)
    return PodInfo(incoming)


def framework(infos):
    """The default plugins, over `infos` as the whole cluster (topology spread counts it)."""
    handle = Handle(binder=None, nodes=lambda: infos)  # type: ignore[arg-type]
    return Framework(FrameworkConfig(), default_registry(), handle)


def one_by_one(pod_info, infos, start, enough):
    """The reference: every filter asked about every node, in round-robin order from `start`."""
    state, fw = CycleState(), framework(infos)
    fw.run_pre_filter(state, pod_info, infos)
    filters = [p for p in fw.plugins if isinstance(p, FilterPlugin) and p.name not in state.skip_filter]
    feasible, rejected, looked = [], {}, 0
    for index in itertools.chain(range(start, len(infos)), range(start)):
        looked += 1
        statuses = [p.filter(state, pod_info, infos[index]).by(p.name) for p in filters]
        failed = [s for s in statuses if not s.ok]
        if failed:
            rejected[infos[index].name] = failed[0]
            continue
        feasible.append(infos[index].name)
        if len(feasible) >= enough:
            break
    return feasible, looked, rejected


@settings(max_examples=400, deadline=None)
@given(nodes(), pods(), st.integers(0, 11), st.integers(1, 12))
def test_vector_filters_find_what_asking_each_node_finds(infos, pod_info, start, enough):
    start %= len(infos)
    state, diagnosis, fw = CycleState(), Diagnosis(), framework(infos)
    fw.run_pre_filter(state, pod_info, infos)
    feasible, looked, status = fw.filter_nodes(
        state, pod_info, NodeTable(infos), diagnosis, start=start, enough=enough
    )
    expected, expected_looked, reasons = one_by_one(pod_info, infos, start, enough)
    assert status.ok and ([n.name for n in feasible], looked) == (expected, expected_looked)
    if feasible:  # the reasons nobody reads: those given are right, some may be left out
        assert reasons.items() >= diagnosis.node_statuses.items()
    else:  # an unschedulable pod: every node's reason, as asking each node gives it
        assert diagnosis.node_statuses == reasons


@settings(max_examples=200, deadline=None)
@given(nodes(), pods())
def test_vector_scores_are_kube_schedulers_formulas(infos, pod_info):
    table = NodeTable(infos)
    least = Fit({}).score_vector(CycleState(), pod_info, table).tolist()
    most = Fit({"scoring_strategy": "MostAllocated"}).score_vector(CycleState(), pod_info, table).tolist()
    balanced = BalancedAllocation().score_vector(CycleState(), pod_info, table).tolist()
    for info, least_score, most_score, balanced_score in zip(infos, least, most, balanced, strict=True):
        shares = []
        for used, capacity in ((info.non_zero_milli_cpu + pod_info.non_zero_milli_cpu, info.allocatable_milli_cpu),
                               (info.non_zero_memory + pod_info.non_zero_memory, info.allocatable_memory)):  # fmt: skip
            free = (capacity - used) * MAX_NODE_SCORE // capacity if capacity and used <= capacity else 0
            full = min(used, capacity) * MAX_NODE_SCORE // capacity if capacity else 0
            shares.append((free, full))
        assert least_score == (shares[0][0] + shares[1][0]) // 2
        assert most_score == (shares[0][1] + shares[1][1]) // 2
        cpu, memory = info.allocatable_milli_cpu, info.allocatable_memory
        if cpu and memory:
            fractions = [min((info.requested_milli_cpu + pod_info.milli_cpu) / cpu, 1.0),
                         min((info.requested_memory + pod_info.memory) / memory, 1.0)]  # fmt: skip
            assert balanced_score == int((1 - abs(fractions[0] - fractions[1]) / 2) * MAX_NODE_SCORE)
        else:
            assert balanced_score == MAX_NODE_SCORE


def columns(table):
    """Every column's values; the taint sets by what they tolerate (their ids are the table's own)."""
    found = {name: getattr(table, name).tolist() for name in COLUMNS if name != "taint_set"}
    for tolerations in ([], [DEDICATED_TOLERATION]):
        found[f"tolerating {tolerations}"] = table.tolerating(tolerations).tolist()
    return found


def test_the_caches_table_follows_pods_and_node_updates():
    cache = Cache()
    cache.set_node(node("n1"))
    cache.set_node(node("n2"))
    table = cache.nodes()
    assert table.domains(ZONE)[0].tolist() == [-1, -1]  # no node has a zone yet
    placed = PodInfo(pod("p", cpu="1", memory="1Gi"))
    cache.assume(placed, "n2")
    cache.set_node(node("n1", cpu="8", taints=[TAINTS[0]], unschedulable=True, labels={ZONE: "z1"}))
    assert cache.nodes() is table  # rows refreshed, not rebuilt
    ids, names = table.domains(ZONE)
    assert ids.tolist() == [0, -1] and names == ["z1"]
    assert columns(table) == columns(NodeTable(list(table)))
    assert table.requested_milli_cpu.tolist() == [0, 1000] and table.pod_count.tolist() == [0, 1]
    assert table.tolerating([]).tolist() == [False, True] and table.allocatable_milli_cpu.tolist() == [
        8000,
        4000,
    ]
    assert table.tolerating([DEDICATED_TOLERATION]).tolist() == [True, True]
    cache.set_node(node("n2", taints=[TAINTS[1]]))  # another taint: a second set, judged on its own
    assert cache.nodes() is table and table.tolerating([DEDICATED_TOLERATION]).tolist() == [True, False]
    assert table.tolerating([]).tolist() == [False, False] and columns(table) == columns(
        NodeTable(list(table))
    )
    cache.forget(placed.key)
    assert cache.nodes().requested_milli_cpu.tolist() == [0, 0]
    cache.set_node(node("n3"))
    assert [n.name for n in cache.nodes()] == ["n1", "n2", "n3"] and len(cache.nodes().pod_count) == 3


def test_a_subset_keeps_its_rows_numbers_in_the_order_asked():
    infos = [node_info(node(f"n{i}", cpu=str(i + 1))) for i in range(4)]
    subset = NodeTable(infos).subset([3, 1])
    assert [n.name for n in subset] == ["n3", "n1"]
    assert subset.allocatable_milli_cpu.tolist() == [4000, 2000]
