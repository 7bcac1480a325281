"""The cache's running pod counts per topology domain agree with a fresh count after every change."""

import random
from datetime import UTC, datetime

from cluster.scheduler.cache import Cache
from cluster.scheduler.framework import PodInfo
from cluster.scheduler.framework.topology import scan

from .builders import node, pod

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def snapshot(counts, keys=(ZONE, HOST)):
    """Nodes per domain, and the pods of each label set per domain (only the label sets that
    have pods on nodes with a Node)."""
    per_label_set = {}
    for key in keys:
        for match_key in counts.label_sets():
            found = {d: n for d, n in counts.pods(key, match_key).items() if n}
            if found:
                per_label_set[(key, match_key)] = found
    return {key: dict(counts.domains(key)) for key in keys}, per_label_set


def test_running_counts_match_a_recount_through_pods_and_nodes_coming_and_going() -> None:
    rng = random.Random(7)
    cache = Cache()
    pods: dict[str, object] = {}
    for step in range(400):
        action = rng.random()
        name = f"n{rng.randrange(8)}"
        if action < 0.15:  # a node appears, or changes zone
            taints = [("dedicated", "gpu", "NoSchedule")] if rng.random() < 0.3 else []
            cache.set_node(node(name, labels={ZONE: rng.choice("abc")}, taints=taints))
        elif action < 0.2:
            cache.remove_node(name)
        elif action < 0.7 or not pods:  # a pod bound somewhere (one of three label sets)
            p = pod(f"p{step}", labels={"app": rng.choice(["web", "db", "cache"])}, node_name=name)
            pods[p.metadata.name] = p
            cache.set_pod(p)
        elif action < 0.8:  # one starts terminating: it no longer counts
            p = type(pods[key := rng.choice(sorted(pods))])()  # a new version, as the informer delivers
            p.CopyFrom(pods[key])
            p.metadata.deletion_timestamp.FromDatetime(datetime.now(UTC))
            pods[key] = p
            cache.set_pod(p)
        else:
            p = pods.pop(rng.choice(sorted(pods)))
            cache.remove_pod(PodInfo(p).key)
        if step % 10 == 0:  # ask, so that the keys are kept up to date from then on
            assert snapshot(cache.topology) == snapshot(scan(cache.nodes())), f"step {step}"
    assert snapshot(cache.topology) == snapshot(scan(cache.nodes()))
