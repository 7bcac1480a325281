"""Pods per topology domain, by label set: what PodTopologySpread counts for every decision.

Counting matching pods over 5,000 nodes for each pod to place costs more than the rest of the
decision; these counts change by one per pod added or removed. `TopologyCounts` answers, for the
nodes (with a Node object) that carry a topology key:
  domains(key)             domain value -> how many nodes are in it
  pods(key, match_key)     domain value -> how many pods with that namespace and label set run
                           there (terminating ones left out)
  label_sets()             every match_key of the pods -> its labels
`TopologyIndex` (the scheduler's cache owns one) keeps them up to date as pods and nodes come and
go, for the keys asked about so far (built on first use; rebuilt after a node's labels change);
`scan` computes them from a node list, for callers without a cache.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from typing import Protocol

from cluster.scheduler.framework.node_info import NodeInfo
from cluster.scheduler.framework.pod_info import PodInfo


class TopologyCounts(Protocol):
    def domains(self, key: str) -> Mapping[str, int]: ...

    def pods(self, key: str, match_key: Hashable) -> Mapping[str, int]: ...

    def label_sets(self) -> Mapping[Hashable, Mapping[str, str]]: ...


def counted(pod: PodInfo) -> bool:
    return not pod.pod.metadata.HasField("deletion_timestamp")


class TopologyIndex:
    def __init__(self) -> None:
        self._domains: dict[str, Counter[str]] = {}  # key -> domain -> nodes
        self._pods: dict[str, dict[Hashable, Counter[str]]] = {}  # key -> match_key -> domain -> pods
        self._labels: dict[Hashable, Mapping[str, str]] = {}
        self._label_sets: Counter[Hashable] = Counter()  # match_key -> pods with it
        self._nodes: Iterable[NodeInfo] = ()

    def bind(self, nodes: Iterable[NodeInfo]) -> None:
        """Where to rebuild from (the cache's NodeInfos, with or without a Node)."""
        self._nodes = nodes

    # -- what plugins ask ------------------------------------------------------------------

    def domains(self, key: str) -> Mapping[str, int]:
        self._build(key)
        return self._domains[key]

    def pods(self, key: str, match_key: Hashable) -> Mapping[str, int]:
        self._build(key)
        return self._pods[key].get(match_key, {})

    def label_sets(self) -> Mapping[Hashable, Mapping[str, str]]:
        return self._labels

    # -- what the cache tells --------------------------------------------------------------

    def pod_added(self, node: NodeInfo, pod: PodInfo) -> None:
        self._count_pod(node, pod, 1)

    def pod_removed(self, node: NodeInfo, pod: PodInfo) -> None:
        self._count_pod(node, pod, -1)

    def node_set(self, node: NodeInfo, *, moved: bool) -> None:
        """A node was added or updated; `moved`: it is new, or its labels changed (domains move)."""
        if moved:
            self._rebuild()

    def node_removed(self, node: NodeInfo) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        """Count each key afresh on its next use."""
        self._domains.clear()
        self._pods.clear()

    def _count_pod(self, node: NodeInfo, pod: PodInfo, sign: int) -> None:
        if not counted(pod):
            return
        self._label_sets[pod.match_key] += sign
        if self._label_sets[pod.match_key] > 0:
            self._labels[pod.match_key] = pod.labels
        else:
            del self._label_sets[pod.match_key]
            self._labels.pop(pod.match_key, None)
        if node.node is None:
            return
        for key, by_match in self._pods.items():
            domain = node.labels.get(key)
            if domain is not None:
                by_match.setdefault(pod.match_key, Counter())[domain] += sign

    def _build(self, key: str) -> None:
        if key in self._domains:
            return
        domains: Counter[str] = Counter()
        by_match: dict[Hashable, Counter[str]] = {}
        for node in self._nodes:
            domain = node.labels.get(key)
            if node.node is None or domain is None:
                continue
            domains[domain] += 1
            for pod in node.pods.values():
                if counted(pod):
                    by_match.setdefault(pod.match_key, Counter())[domain] += 1
        self._domains[key], self._pods[key] = domains, by_match


def scan(nodes: Iterable[NodeInfo]) -> TopologyIndex:
    """The counts of `nodes`, computed once (no cache keeps them current)."""
    index, listed = TopologyIndex(), list(nodes)
    index.bind(listed)
    for node in listed:
        for pod in node.pods.values():
            index.pod_added(node, pod)
    return index
