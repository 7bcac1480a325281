"""ImageLocality: nodes holding the pod's (large, rare) images score higher; names are normalized."""

import pytest

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import Code, CycleState, Handle, NodeTable, PodInfo
from cluster.scheduler.framework.node_info import normalized_image
from cluster.scheduler.plugins.imagelocality import ImageLocality
from raykube.v1 import node_pb2

from .builders import node, pod

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("image", "normalized"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.35", "docker.io/library/busybox:1.35"),
        ("bitnami/redis:7", "docker.io/bitnami/redis:7"),
        ("localhost/busybox:1.35", "localhost/busybox:1.35"),
        ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
        ("127.0.0.1:5000/web", "127.0.0.1:5000/web:latest"),
        ("busybox@sha256:abc", "docker.io/library/busybox@sha256:abc"),
    ],
)
def test_image_names_are_compared_as_the_runtime_names_them(image: str, normalized: str) -> None:
    assert normalized_image(image) == normalized


def holding(name: str, *images: tuple[str, int]) -> node_pb2.Node:
    obj = node(name)
    for image, size in images:
        obj.status.images.add(names=[image], size_bytes=size)
    return obj


def test_a_node_holding_a_large_image_scores_by_its_size_and_how_rare_it_is() -> None:
    cache = Cache()
    for obj in (holding("n1", ("docker.io/library/busybox:1.35", 500 * MB)), holding("n2"),
                holding("n3", ("docker.io/library/busybox:1.35", 500 * MB))):  # fmt: skip
        cache.set_node(obj)
    plugin = ImageLocality(Handle(None, cache.nodes, indexed_image_nodes=cache.nodes_with_image))  # type: ignore[arg-type]
    state, incoming = CycleState(), PodInfo(pod("p"))
    incoming.pod.spec.containers[0].image = "busybox:1.35"
    assert plugin.pre_score(state, incoming, cache.nodes()).ok
    nodes = cache.nodes()
    found = plugin.score_vector(state, incoming, NodeTable.of(nodes)).tolist()
    scores = dict(zip([n.name for n in nodes], found, strict=True))
    assert scores == {"n1": 100 * (500 * MB * 2 // 3 - 23 * MB) // (977 * MB), "n2": 0, "n3": scores["n1"]}
    assert scores["n1"] == 31
    cache.set_node(holding("n3"))  # the image is gone from n3: rarer, so worth more where it is
    cache.remove_node("n2")
    assert cache.nodes_with_image("docker.io/library/busybox:1.35") == 1
    assert plugin.pre_score(state, incoming, cache.nodes()).ok
    [n1] = plugin.score_vector(state, incoming, NodeTable([cache.node("n1")])).tolist()  # type: ignore[list-item]
    assert n1 == 100 * (500 * MB // 2 - 23 * MB) // (977 * MB)


def test_skipped_when_no_node_holds_any_of_the_images() -> None:
    cache = Cache()
    cache.set_node(holding("n1", ("docker.io/library/nginx:1.25", 100 * MB)))
    plugin = ImageLocality(Handle(None, cache.nodes))  # type: ignore[arg-type]  # counted from nodes()
    assert plugin.pre_score(CycleState(), PodInfo(pod("p")), cache.nodes()).code is Code.SKIP


def test_the_cache_table_follows_nodes_that_gain_and_lose_images_and_subsets_score_alike() -> None:
    busybox, big = "docker.io/library/busybox:1.35", 4000 * MB
    cache = Cache()
    for i in range(40):
        cache.set_node(holding(f"n{i:02d}", *([(busybox, big)] if i in (3, 17) else [])))
    plugin = ImageLocality(Handle(None, cache.nodes, indexed_image_nodes=cache.nodes_with_image))  # type: ignore[arg-type]
    incoming = PodInfo(pod("p"))
    incoming.pod.spec.containers[0].image = "busybox:1.35"

    def scores(table: NodeTable) -> dict[str, int]:
        state = CycleState()
        assert plugin.pre_score(state, incoming, cache.nodes()).ok
        return {
            n.name: s
            for n, s in zip(table, plugin.score_vector(state, incoming, table).tolist(), strict=True)
        }

    held_by_two = 100 * (big * 2 // 40 - 23 * MB) // (977 * MB)  # 4,000 MB held by 2 of 40 nodes: 200 MB
    assert held_by_two == 18
    before = scores(cache.nodes())
    assert {name: s for name, s in before.items() if s} == {"n03": held_by_two, "n17": held_by_two}
    cache.set_node(holding("n03"))  # n03 loses the image, n25 gains it: still two of forty
    cache.set_node(holding("n25", (busybox, big)))
    table = cache.nodes()  # the cache's own table, refreshed row by row
    after = scores(table)
    assert {name: s for name, s in after.items() if s} == {"n17": held_by_two, "n25": held_by_two}
    rows = [i for i, n in enumerate(table) if n.name in ("n03", "n17", "n25", "n30")]
    assert scores(table.subset(rows)) == {n: after[n] for n in ("n03", "n17", "n25", "n30")}
