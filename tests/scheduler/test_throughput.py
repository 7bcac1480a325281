"""Decision throughput: 1,000 pods onto 100 nodes, decisions only (binds are not awaited).

The bound is generous (the shared CI cores are noisy); it is there to catch an accidental
per-pod walk over all pods, which would cost seconds here. Run with -s to see the rate.
"""

import random
import time
from collections import Counter

from cluster.scheduler.scheduler import Scheduler

from .builders import node, pod
from .fake_api import FakeApi

NODES, PODS = 100, 1000


def test_thousand_pods_onto_a_hundred_nodes():
    scheduler = Scheduler(FakeApi(), rng=random.Random(1))
    for i in range(NODES):
        zone = {"topology.kubernetes.io/zone": f"z{i % 3}"}
        scheduler.node_events.on_add(node(f"n{i}", cpu="32", memory="128Gi", labels=zone))
    for i in range(PODS):
        scheduler.pod_events.on_add(pod(f"p{i}", cpu="100m", memory="256Mi"))
    started = time.process_time()
    decided = 0
    while (queued := scheduler.queue.pop_nowait()) is not None:
        follow_up = scheduler.schedule_one(queued)
        assert follow_up is not None
        follow_up.close()  # the bind is not the subject here; the pod stays assumed
        decided += 1
    elapsed = time.process_time() - started
    print(f"\n{decided} decisions over {NODES} nodes in {elapsed:.3f}s CPU = {decided / elapsed:.0f} pods/s")
    per_node = Counter(len(info.pods) for info in scheduler.cache.nodes())
    assert decided == PODS and per_node == {PODS // NODES: NODES}  # least-allocated spreads evenly
    assert elapsed < 3.0
