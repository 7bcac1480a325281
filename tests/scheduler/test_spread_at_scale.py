"""Pods onto many equal nodes: every pod is placed and least-allocated scoring spreads them evenly,
also when only a share of the nodes is looked at per decision (percentageOfNodesToScore).

Decision speed itself is measured in benchmarks/ (scheduling throughput), not asserted here.
"""

import random
from collections import Counter

from cluster.scheduler.scheduler import Scheduler

from .builders import node, pod
from .fake_api import FakeApi


def spread(nodes: int, pods: int, cpu: str = "100m") -> tuple[int, Counter[int]]:
    """Decide `pods` pods on `nodes` equal nodes; (decisions, {pods on a node: nodes with that many})."""
    scheduler = Scheduler(FakeApi(), rng=random.Random(1))
    for i in range(nodes):
        zone = {"topology.kubernetes.io/zone": f"z{i % 3}"}
        scheduler.node_events.on_add(node(f"n{i}", cpu="32", memory="128Gi", labels=zone))
    for i in range(pods):
        scheduler.pod_events.on_add(pod(f"p{i}", cpu=cpu, memory="256Mi"))
    decided = 0
    while (queued := scheduler.queue.pop_nowait()) is not None:
        follow_up = scheduler.schedule_one(queued)
        assert follow_up is not None
        follow_up.close()  # the bind is not the subject here; the pod stays assumed
        decided += 1
    return decided, Counter(len(info.pods) for info in scheduler.cache.nodes())


def test_thousand_pods_spread_evenly_onto_a_hundred_nodes() -> None:
    assert spread(100, 1000) == (1000, {10: 100})


def test_with_a_share_of_nodes_scored_the_round_robin_still_reaches_every_node() -> None:
    """1,000 nodes: each decision filters and scores 420 of them, starting where the last stopped
    (1-cpu pods: each makes a visible difference to a node's score)."""
    assert spread(1000, 2000, cpu="1") == (2000, {2: 1000})
