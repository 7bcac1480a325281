"""1,000 pods onto 100 nodes: every pod is placed and least-allocated scoring spreads them evenly.

Decision speed itself is measured in benchmarks/ (scheduling throughput), not asserted here.
"""

import random
from collections import Counter

from cluster.scheduler.scheduler import Scheduler

from .builders import node, pod
from .fake_api import FakeApi

NODES, PODS = 100, 1000


def test_thousand_pods_spread_evenly_onto_a_hundred_nodes() -> None:
    scheduler = Scheduler(FakeApi(), rng=random.Random(1))
    for i in range(NODES):
        zone = {"topology.kubernetes.io/zone": f"z{i % 3}"}
        scheduler.node_events.on_add(node(f"n{i}", cpu="32", memory="128Gi", labels=zone))
    for i in range(PODS):
        scheduler.pod_events.on_add(pod(f"p{i}", cpu="100m", memory="256Mi"))
    decided = 0
    while (queued := scheduler.queue.pop_nowait()) is not None:
        follow_up = scheduler.schedule_one(queued)
        assert follow_up is not None
        follow_up.close()  # the bind is not the subject here; the pod stays assumed
        decided += 1
    per_node = Counter(len(info.pods) for info in scheduler.cache.nodes())
    assert decided == PODS and per_node == {PODS // NODES: NODES}
