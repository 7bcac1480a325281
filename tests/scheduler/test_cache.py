import pytest

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import NodeInfo, PodInfo

from .builders import node, pod, term


def bound(p, node_name):
    copy = type(p)()
    copy.CopyFrom(p)
    copy.spec.node_name = node_name
    return copy


@pytest.fixture
def cache():
    c = Cache()
    c.set_node(node("n1"))
    c.set_node(node("n2"))
    return c


def requested(cache, name):
    info = cache.node(name)
    return (len(info.pods), info.requested_milli_cpu, info.requested_memory) if info else None


def test_an_assumed_pod_counts_at_once_and_forget_undoes_it(cache):
    p = PodInfo(pod("p", cpu="500m", memory="1Gi"))
    cache.assume(p, "n1")
    assert cache.is_assumed(p.key) and requested(cache, "n1") == (1, 500, 2**30)
    cache.forget(p.key)
    assert not cache.is_assumed(p.key) and requested(cache, "n1") == (0, 0, 0)
    assert len(cache) == 0


def test_assuming_a_known_pod_is_a_bug(cache):
    p = PodInfo(pod("p"))
    cache.assume(p, "n1")
    with pytest.raises(ValueError, match="already in the scheduler cache"):
        cache.assume(p, "n2")


def test_the_informer_confirms_an_assumption_and_forget_then_keeps_it(cache):
    p = pod("p", cpu="1")
    cache.assume(PodInfo(p), "n1")
    cache.set_pod(bound(p, "n1"))
    assert not cache.is_assumed(p.metadata.uid) and requested(cache, "n1") == (1, 1000, 0)
    cache.forget(p.metadata.uid)  # e.g. the bind call timed out although it succeeded
    assert requested(cache, "n1") == (1, 1000, 0)


def test_a_pod_bound_elsewhere_than_assumed_moves(cache):
    p = pod("p", cpu="1")
    cache.assume(PodInfo(p), "n1")
    cache.set_pod(bound(p, "n2"))
    assert requested(cache, "n1") == (0, 0, 0) and requested(cache, "n2") == (1, 1000, 0)


def test_updates_replace_and_deletion_frees(cache):
    p = bound(pod("p", cpu="1"), "n1")
    cache.set_pod(p)
    bigger = bound(pod("p", cpu="2"), "n1")
    bigger.metadata.uid = p.metadata.uid
    cache.set_pod(bigger)
    assert requested(cache, "n1") == (1, 2000, 0)
    cache.remove_pod(p.metadata.uid)
    assert requested(cache, "n1") == (0, 0, 0)
    cache.remove_pod(p.metadata.uid)  # twice is fine


def test_pods_on_unknown_nodes_are_kept_but_not_offered(cache):
    p = bound(pod("p", cpu="1"), "n3")
    cache.set_pod(p)
    assert [n.name for n in cache.nodes()] == ["n1", "n2"]
    cache.set_node(node("n3"))
    assert [n.name for n in cache.nodes()] == ["n1", "n2", "n3"]
    assert requested(cache, "n3") == (1, 1000, 0)


def test_a_removed_node_lingers_while_its_pods_do(cache):
    p = bound(pod("p", cpu="1"), "n1")
    cache.set_pod(p)
    cache.remove_node("n1")
    assert [n.name for n in cache.nodes()] == ["n2"] and requested(cache, "n1") == (1, 1000, 0)
    cache.remove_pod(p.metadata.uid)
    assert cache.node("n1") is None


def test_node_updates_keep_the_pods(cache):
    cache.set_pod(bound(pod("p", cpu="1"), "n1"))
    before = cache.nodes()
    cache.set_node(node("n1", cpu="8", labels={"zone": "a"}))
    assert cache.nodes() is before  # same list: no node came or went
    info = cache.node("n1")
    assert (info.allocatable_milli_cpu, info.labels["zone"], info.requested_milli_cpu) == (8000, "a", 1000)


def test_nodes_with_affinity_pods_are_indexed_as_pods_come_and_go(cache):
    """Inter-pod affinity walks these lists instead of every node."""
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term("h", app="a")]}}
    preferred = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "podAffinityTerm": term("h", app="a")}]}}  # fmt: skip
    repelling, attracted, plain = (
        PodInfo(pod("r", affinity=anti)),
        PodInfo(pod("a", affinity=preferred)),
        PodInfo(pod("p")),
    )
    cache.assume(plain, "n1")
    assert cache.nodes_with_affinity() == [] and cache.nodes_with_required_anti_affinity() == []
    cache.assume(repelling, "n1")
    cache.assume(attracted, "n2")
    assert {n.name for n in cache.nodes_with_affinity()} == {"n1", "n2"}
    assert [n.name for n in cache.nodes_with_required_anti_affinity()] == ["n1"]
    cache.set_pod(bound(repelling.pod, "n2"))  # bound elsewhere than assumed: it moves
    assert [n.name for n in cache.nodes_with_required_anti_affinity()] == ["n2"]
    cache.remove_node("n2")  # a node without its Node object is offered to no plugin
    assert [n.name for n in cache.nodes_with_affinity()] == []
    cache.set_node(node("n2"))
    cache.remove_pod(repelling.key)
    cache.forget(attracted.key)
    assert cache.nodes_with_affinity() == [] and cache.nodes_with_required_anti_affinity() == []


def test_a_clone_is_the_node_read_afresh_and_changes_apart_from_it():
    spec = pod("web", cpu="500m", memory="1Gi", affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [term("zone", app="web")]}})  # fmt: skip
    spec.spec.containers[0].ports.add(container_port=80, host_port=8080)
    web = PodInfo(spec)
    original = NodeInfo("n1", node("n1", labels={"zone": "a"}, taints=[("dedicated", "gpu", "NoSchedule")]))
    original.add_pod(web)
    copy = original.clone()
    fresh = NodeInfo("n1", original.node)
    fresh.add_pod(web)
    assert {f: getattr(copy, f) for f in NodeInfo.__slots__} == {
        f: getattr(fresh, f) for f in NodeInfo.__slots__
    }
    copy.remove_pod(web.key)
    copy.add_pod(PodInfo(pod("other", cpu="1")))
    assert list(original.pods) == [web.key] and list(original.pods_with_required_anti_affinity) == [web.key]
    assert original.requested_milli_cpu == 500 and copy.requested_milli_cpu == 1000
    assert list(original.used_ports.values()) == [1] and not copy.used_ports
