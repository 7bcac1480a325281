from cluster.scheduler.framework import Code, CycleState, Handle, NodeInfo, PodInfo
from cluster.scheduler.plugins.interpodaffinity import InterPodAffinity

from .builders import node, node_info, pod, term

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def cluster(**pods_by_node) -> list[NodeInfo]:
    """n1, n2 in zone a; n3 in zone b; `bare` has no zone label."""
    zones = {"n1": "a", "n2": "a", "n3": "b", "bare": None}
    return [
        node_info(node(name, labels={ZONE: zone} if zone else {}), *pods_by_node.get(name, ()))
        for name, zone in zones.items()
    ]


def plugin(nodes, **args) -> InterPodAffinity:
    return InterPodAffinity(args, Handle(binder=None, nodes=lambda: nodes))  # type: ignore[arg-type]


def filter_all(incoming, nodes) -> dict[str, tuple[Code, tuple[str, ...]] | None]:
    """node name -> None if it fits, else (code, reasons)."""
    p, state, info = plugin(nodes), CycleState(), PodInfo(incoming)
    status = p.pre_filter(state, info, nodes)
    if status.code is Code.SKIP:
        return dict.fromkeys((n.name for n in nodes), None)
    result = {}
    for n in nodes:
        s = p.filter(state, info, n)
        result[n.name] = None if s.ok else (s.code, s.reasons)
    return result


def required(kind, *terms):
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def preferred(kind, weight, t):
    return {
        kind: {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": weight, "podAffinityTerm": t}]}
    }


AFFINITY = (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't match pod affinity rules",))
ANTI = (Code.UNSCHEDULABLE, ("node(s) didn't match pod anti-affinity rules",))
EXISTING_ANTI = (Code.UNSCHEDULABLE, ("node(s) didn't satisfy existing pods anti-affinity rules",))


def test_pods_without_terms_skip_the_filter():
    nodes = cluster(n1=[pod("db", labels={"app": "db"})])
    assert plugin(nodes).pre_filter(CycleState(), PodInfo(pod("p")), nodes).code is Code.SKIP


def test_required_affinity_follows_the_matching_pods_domain():
    nodes = cluster(n1=[pod("db", labels={"app": "db"})])
    web = pod("web", affinity=required("podAffinity", term(ZONE, app="db")))
    assert filter_all(web, nodes) == {"n1": None, "n2": None, "n3": AFFINITY, "bare": AFFINITY}


def test_required_affinity_looks_only_in_the_terms_namespaces():
    nodes = cluster(n1=[pod("db", labels={"app": "db"}, namespace="other")])
    web = pod("web", affinity=required("podAffinity", term(ZONE, app="db")))
    assert set(filter_all(web, nodes).values()) == {AFFINITY}
    listed = dict(term(ZONE, app="db"), namespaces=["other"])
    web = pod("web", affinity=required("podAffinity", listed))
    assert filter_all(web, nodes)["n2"] is None


def test_first_pod_of_a_self_affine_group_may_go_anywhere_with_the_topology_key():
    nodes = cluster()
    first = pod("web-0", labels={"app": "web"}, affinity=required("podAffinity", term(ZONE, app="web")))
    assert filter_all(first, nodes) == {"n1": None, "n2": None, "n3": None, "bare": AFFINITY}
    stranger = pod("x", labels={"app": "x"}, affinity=required("podAffinity", term(ZONE, app="web")))
    assert set(filter_all(stranger, nodes).values()) == {AFFINITY}


def test_required_anti_affinity_avoids_the_matching_pods_domain():
    nodes = cluster(n1=[pod("web-0", labels={"app": "web"})])
    web = pod("web-1", labels={"app": "web"}, affinity=required("podAntiAffinity", term(HOST, app="web")))
    assert filter_all(web, nodes) == {"n1": ANTI, "n2": None, "n3": None, "bare": None}
    by_zone = pod("web-1", labels={"app": "web"}, affinity=required("podAntiAffinity", term(ZONE, app="web")))
    assert filter_all(by_zone, nodes) == {"n1": ANTI, "n2": ANTI, "n3": None, "bare": None}


def test_existing_pods_anti_affinity_is_respected_symmetrically():
    loner = pod("loner", affinity=required("podAntiAffinity", term(ZONE, app="web")))
    nodes = cluster(n2=[loner])
    web = pod("web", labels={"app": "web"})  # has no terms of its own
    assert filter_all(web, nodes) == {"n1": EXISTING_ANTI, "n2": EXISTING_ANTI, "n3": None, "bare": None}
    assert set(filter_all(pod("db", labels={"app": "db"}), nodes).values()) == {None}


def scores(incoming, nodes, **args) -> dict[str, int] | None:
    p, state, info = plugin(nodes, **args), CycleState(), PodInfo(incoming)
    if p.pre_score(state, info, nodes).code is Code.SKIP:
        return None
    raw = [p.score(state, info, n) for n in nodes]
    p.normalize_score(state, info, raw)
    return {n.name: s for n, s in zip(nodes, raw, strict=True)}


def test_preferred_affinity_and_anti_affinity_score_domains():
    nodes = cluster(n1=[pod("db", labels={"app": "db"})], n3=[pod("cache", labels={"app": "cache"})])
    near_db = pod("web", affinity=preferred("podAffinity", 50, term(ZONE, app="db")))
    assert scores(near_db, nodes) == {"n1": 100, "n2": 100, "n3": 0, "bare": 0}
    away_from_cache = pod("web", affinity=preferred("podAntiAffinity", 50, term(ZONE, app="cache")))
    assert scores(away_from_cache, nodes) == {"n1": 100, "n2": 100, "n3": 0, "bare": 100}


def test_existing_pods_terms_score_the_incoming_pod_symmetrically():
    wants_web = pod("a", affinity=preferred("podAffinity", 20, term(ZONE, app="web")))
    needs_web = pod("b", affinity=required("podAffinity", term(HOST, app="web")))
    nodes = cluster(n3=[wants_web], n2=[needs_web])
    # n3 gets the preferred weight 20 (zone b); n2 the hard weight 5 (its host only)
    assert scores(pod("web", labels={"app": "web"}), nodes, hard_pod_affinity_weight=5) == {
        "n1": 0,
        "n2": 25,
        "n3": 100,
        "bare": 0,
    }
    assert scores(pod("db", labels={"app": "db"}), nodes) is None
