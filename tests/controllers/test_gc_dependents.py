"""The garbage collector's graph of owners and dependents (cluster/controllers/garbagecollector/dependents.py)."""

from __future__ import annotations

from cluster.controllers.garbagecollector.dependents import Dependents
from raykube.v1 import meta_pb2, pod_pb2


def pod(name: str, *owners: str, namespace: str = "default") -> pod_pb2.Pod:
    made = pod_pb2.Pod()
    made.metadata.name, made.metadata.namespace = name, namespace
    made.metadata.owner_references.extend(
        meta_pb2.OwnerReference(kind="ReplicaSet", name=f"rs-{uid}", uid=uid) for uid in owners
    )
    return made


def test_dependents_follow_adds_changes_and_deletes() -> None:
    graph = Dependents()
    graph.changed("pods", None, pod("a", "u1"))
    graph.changed("pods", None, pod("b", "u1", "u2"))
    graph.changed("pods", None, pod("c"))
    graph.changed("replicasets", None, pod("a", "u1", namespace="other"))
    assert graph.of("u1") == [
        ("pods", "default", "a"),
        ("pods", "default", "b"),
        ("replicasets", "other", "a"),
    ]
    assert graph.of("u2") == [("pods", "default", "b")]
    graph.changed("pods", pod("b", "u1", "u2"), pod("b", "u2", "u3"))  # u1 dropped, u3 added
    assert graph.of("u1") == [("pods", "default", "a"), ("replicasets", "other", "a")]
    assert graph.of("u3") == [("pods", "default", "b")]
    graph.changed("pods", pod("a", "u1"), None)
    graph.changed("replicasets", pod("a", "u1", namespace="other"), None)
    assert graph.of("u1") == [] and graph.of("nobody") == []
    assert graph._by_owner.keys() == {"u2", "u3"}  # emptied owners are forgotten
