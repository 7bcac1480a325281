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

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass

from cluster.api import labels
from cluster.api.taints import tolerated
from cluster.scheduler.framework import NodeInfo, PodInfo
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

    def has_keys(self, node: NodeInfo) -> bool:
        """Nodes without every constraint's topology key are left out of spreading altogether."""
        return all(c.topology_key in node.labels for c in self.constraints)

    def includes(self, c: Constraint, node: NodeInfo) -> bool:
        """Whether `node`'s pods count for constraint `c`, by its inclusion policies."""
        if c.honor_affinity and self.required is not None and not self.required.matches(node):
            return False
        return not (c.honor_taints and self.untolerated(node))


def _from_index(spread: Spread, c: Constraint, pod: PodInfo, topology: TopologyCounts) -> dict[str, int]:
    key = c.topology_key
    counts = dict.fromkeys(topology.domains(key), 0)
    for match_key, pod_labels in topology.label_sets().items():
        if match_key[0] == pod.namespace and c.selector.matches(pod_labels):  # type: ignore[index]
            for domain, n in topology.pods(key, match_key).items():
                counts[domain] += n
    if c.honor_taints:  # take out the nodes the pod does not tolerate, and domains left empty
        left = dict(topology.domains(key))
        verdicts: dict[Hashable, bool] = {}  # taint_key -> untolerated: tainted nodes mostly look alike
        for node in topology.tainted():
            where = node.labels.get(key)
            if node.node is None or where is None:
                continue
            untolerated = verdicts.get(node.taint_key)
            if untolerated is None:
                untolerated = verdicts[node.taint_key] = spread.untolerated(node)
            if not untolerated:
                continue
            if node.pods:
                counts[where] -= sum(1 for p in node.pods.values() if counted(p) and c.matches(pod, p))
            left[where] -= 1
            if not left[where]:
                del counts[where]
    return counts


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
    spread: Spread, pod: PodInfo, nodes: Iterable[NodeInfo], topology: TopologyCounts
) -> list[dict[str, int]]:
    """Per constraint, the matching pods in each domain of the eligible `nodes` (0 included).

    From the cache's running counts when every node with the key is eligible (one topology key,
    no inclusion policy that applies): a few dict lookups per label set. Otherwise by looking at
    every node; pods with equal namespace and labels get equal answers (each match_key once)."""
    if spread.indexable():
        return [_from_index(spread, c, pod, topology) for c in spread.constraints]
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
