"""nodeSelector and node affinity (required: filter; preferred: score)."""

from cluster.scheduler.plugins.nodeaffinity.node_affinity import NodeAffinity

__all__ = ["NodeAffinity"]
