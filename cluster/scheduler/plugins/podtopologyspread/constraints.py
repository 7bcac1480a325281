"""A pod's topologySpreadConstraints, parsed once per attempt, and the counting both halves share.

A constraint counts the pods of the incoming pod's namespace that its selector matches (the
labelSelector, narrowed by `matchLabelKeys` to the incoming pod's own values of those keys) and
that are not being deleted, per domain: per value of `topologyKey` among the eligible nodes.
A node counts when it has every constraint's topology key and, by that constraint's inclusion
policies, matches the pod's nodeSelector/required node affinity (nodeAffinityPolicy Honor, the
default) and carries only taints the pod tolerates (nodeTaintsPolicy Honor; the default Ignore
skips this; a cordoned node carries the unschedulable taint, as Kubernetes' node controller
puts it there).
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from cluster.api import labels
from cluster.api.taints import tolerated
from cluster.scheduler.framework import Mask, NodeInfo, NodeTable, PodInfo
from cluster.scheduler.framework.node_table import Column
from cluster.scheduler.framework.topology import TopologyCounts, counted
from cluster.scheduler.plugins.nodeaffinity.node_affinity import Required, required_of
from cluster.scheduler.plugins.nodeunschedulable.node_unschedulable import UNSCHEDULABLE_TAINT
from raykube.v1 import pod_pb2

DO_NOT_SCHEDULE, SCHEDULE_ANYWAY = "DoNotSchedule", "ScheduleAnyway"


@dataclass(frozen=True, slots=True)
class Constraint:
    max_skew: int
    topology_key: str
    selector: labels.Selector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool

    def matches(self, pod: PodInfo, other: PodInfo) -> bool:
        """Whether `other` counts for the incoming `pod` (its namespace, the selector)."""
        return other.namespace == pod.namespace and self.selector.matches(other.labels)


@dataclass(frozen=True, slots=True)
class Spread:
    """The pod's constraints of one kind (hard or soft), with what eligibility needs."""

    constraints: tuple[Constraint, ...]
    required: Required | None  # the pod's own node selection, for nodeAffinityPolicy Honor
    tolerations: tuple[pod_pb2.Toleration, ...]

    def indexable(self) -> bool:
        """Whether running counts serve: one topology key, and no node-affinity policy to apply
        (a taints policy only leaves out a few tainted nodes, subtracted from them)."""
        keys = {c.topology_key for c in self.constraints}
        affinity = any(c.honor_affinity and self.required is not None for c in self.constraints)
        return len(keys) == 1 and not affinity

    def untolerated(self, node: NodeInfo) -> bool:
        taints = (*node.taints, UNSCHEDULABLE_TAINT) if node.unschedulable else node.taints
        return not all(tolerated(self.tolerations, taint) for taint in taints)

    def untolerated_rows(self, table: NodeTable) -> Mask:
        """`untolerated` for every row of `table` at once."""
        found = ~table.tolerating(self.tolerations)
        if not tolerated(self.tolerations, UNSCHEDULABLE_TAINT):
            found |= table.unschedulable
        return found

    def has_keys(self, node: NodeInfo) -> bool:
        """Nodes without every constraint's topology key are left out of spreading altogether."""
        return all(c.topology_key in node.labels for c in self.constraints)

    def includes(self, c: Constraint, node: NodeInfo) -> bool:
        """Whether `node`'s pods count for constraint `c`, by its inclusion policies."""
        if c.honor_affinity and self.required is not None and not self.required.matches(node):
            return False
        return not (c.honor_taints and self.untolerated(node))


@dataclass(frozen=True, slots=True)
class DomainCounts:
    """One constraint's count per domain of a NodeTable's `domains(key)`, as numbers to index by
    row: `counts[i]` for the domain `names[i]`, and a last slot (0) for rows without the key.
    `present`: the domains with an eligible node (a domain without one counts 0)."""

    names: list[str]
    index: Mapping[str, int]  # name -> i
    counts: Column  # len(names) + 1
    present: Mask  # len(names)

    def of(self, domain: str) -> int:
        i = self.index.get(domain)
        return 0 if i is None else int(self.counts[i])

    def as_dict(self) -> dict[str, int]:
        """The present domains and their counts."""
        present = itertools.compress(self.names, self.present)
        return dict(zip(present, self.counts[:-1][self.present].tolist(), strict=True))

    def minimum(self, min_domains: int) -> int:
        """The smallest count among the present domains; 0 when fewer than `min_domains` are."""
        found = self.counts[:-1][self.present]
        return 0 if len(found) < min_domains or not len(found) else int(found.min())

    def by_row(self, table: NodeTable, key: str) -> Column:
        """Per row of `table` (the one counted, or another): its domain's count."""
        ids, names = table.domains(key)
        if names is self.names:
            return self.counts[ids]
        counts = np.fromiter(itertools.chain(map(self.of, names), (0,)), dtype=np.int64, count=len(names) + 1)
        return counts[ids]


def count_per_domain(
    spread: Spread, pod: PodInfo, table: NodeTable, topology: TopologyCounts
) -> list[DomainCounts]:
    """count_domains over a table, per constraint as DomainCounts. When every node with the key
    is eligible but for taints (one topology key, no node-affinity policy), from the cache's
    running counts in a few array operations per label set (a hostname key has as many domains
    as nodes); otherwise by looking at every node."""
    if not spread.indexable():
        by_mapping = count_domains(spread, pod, table, topology)
        return [
            _from_mapping(table, c.topology_key, m)
            for c, m in zip(spread.constraints, by_mapping, strict=True)
        ]
    untolerated = None
    found = []
    for c in spread.constraints:
        if c.honor_taints and untolerated is None:
            untolerated = spread.untolerated_rows(table)
        found.append(_from_index(c, pod, table, topology, untolerated if c.honor_taints else None))
    return found


def _from_index(c: Constraint, pod: PodInfo, table: NodeTable, topology: TopologyCounts,
                untolerated: Mask | None) -> DomainCounts:  # fmt: skip
    ids, names = table.domains(c.topology_key)
    index = table.domain_index(c.topology_key)
    spare = len(names)  # the last slot: rows without the key, and any domain the table lacks
    counts = np.zeros(spare + 1, dtype=np.int64)
    for match_key, pod_labels in topology.label_sets().items():
        if match_key[0] == pod.namespace and c.selector.matches(pod_labels):  # type: ignore[index]
            pods = topology.pods(c.topology_key, match_key)
            slots = np.fromiter(map(index.get, pods, itertools.repeat(spare)), dtype=np.intp, count=len(pods))
            np.add.at(counts, slots, np.fromiter(pods.values(), dtype=np.int64, count=len(pods)))
    eligible = ids >= 0
    if untolerated is not None:  # take out the nodes the pod does not tolerate, and their pods
        for row in np.flatnonzero(untolerated & eligible & (table.pod_count > 0)).tolist():
            node = table[row]
            counts[ids[row]] -= sum(1 for p in node.pods.values() if counted(p) and c.matches(pod, p))
        eligible &= ~untolerated
    present = np.bincount(ids[eligible], minlength=spare) > 0
    counts[spare] = 0
    counts[:spare][~present] = 0
    return DomainCounts(names, index, counts, present)


def _from_mapping(table: NodeTable, key: str, found: Mapping[str, int]) -> DomainCounts:
    names = table.domains(key)[1]
    counts = np.fromiter(itertools.chain(map(found.get, names, itertools.repeat(0)), (0,)),
                         dtype=np.int64, count=len(names) + 1)  # fmt: skip
    present = np.fromiter(map(found.__contains__, names), dtype=bool, count=len(names))
    return DomainCounts(names, table.domain_index(key), counts, present)


def parse(pod: PodInfo, action: str) -> Spread | None:
    """The pod's constraints whose whenUnsatisfiable is `action`, or None if it has none; raises
    labels.SelectorError for a selector that cannot be parsed."""
    spec = pod.pod.spec
    chosen = [c for c in spec.topology_spread_constraints if c.when_unsatisfiable == action]
    if not chosen:
        return None
    constraints = tuple(_constraint(c, pod.labels) for c in chosen)
    return Spread(constraints, required_of(pod.pod), tuple(spec.tolerations))


def _constraint(c: pod_pb2.TopologySpreadConstraint, pod_labels: Mapping[str, str]) -> Constraint:
    selector = labels.from_label_selector(c.label_selector)
    keys = [key for key in c.match_label_keys if key in pod_labels]
    if keys:
        narrowed = labels.from_map({key: pod_labels[key] for key in keys})
        selector = labels.Selector(selector.requirements + narrowed.requirements)
    return Constraint(
        max_skew=c.max_skew,
        topology_key=c.topology_key,
        selector=selector,
        min_domains=c.min_domains if c.HasField("min_domains") else 1,
        honor_affinity=c.node_affinity_policy != "Ignore",
        honor_taints=c.node_taints_policy == "Honor",
    )


def count_domains(
    spread: Spread, pod: PodInfo, nodes: Sequence[NodeInfo], topology: TopologyCounts
) -> list[dict[str, int]]:
    """Per constraint, the matching pods in each domain of the eligible `nodes` (0 included).

    From the cache's running counts when they serve (count_per_domain). Otherwise by looking at
    every node; pods with equal namespace and labels get equal answers (each match_key once)."""
    if spread.indexable():
        return [found.as_dict() for found in count_per_domain(spread, pod, NodeTable.of(nodes), topology)]
    constraints = spread.constraints
    counts: list[dict[str, int]] = [{} for _ in constraints]
    answers: list[dict[Hashable, bool]] = [{} for _ in constraints]
    for node in nodes:
        if not spread.has_keys(node):
            continue
        for c, domains, seen in zip(constraints, counts, answers, strict=True):
            if not spread.includes(c, node):
                continue
            n = 0
            for other in node.pods.values():
                hit = seen.get(other.match_key)
                if hit is None:
                    hit = seen[other.match_key] = c.matches(pod, other)
                if hit and not other.pod.metadata.HasField("deletion_timestamp"):
                    n += 1
            domain = node.labels[c.topology_key]
            domains[domain] = domains.get(domain, 0) + n
    return counts
