"""Per-topology-domain tallies: topology key -> label value -> amount (pods counted, or score)."""

from __future__ import annotations

from cluster.scheduler.framework import NodeInfo

Domains = dict[str, dict[str, int]]


def add(domains: Domains, node: NodeInfo, topology_key: str, amount: int) -> None:
    """Add `amount` to the domain `node` is in for `topology_key` (nothing if it has no such label)."""
    value = node.labels.get(topology_key)
    if value is not None:
        domain = domains.setdefault(topology_key, {})
        domain[value] = domain.get(value, 0) + amount


def total(domains: Domains, node: NodeInfo) -> int:
    """The sum over the domains `node` is in."""
    labels = node.labels
    return sum(domain.get(labels[key], 0) for key, domain in domains.items() if key in labels)
