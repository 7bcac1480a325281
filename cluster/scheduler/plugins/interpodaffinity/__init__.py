"""Pod affinity and anti-affinity (required: filter, incl. existing pods' anti-affinity; preferred: score)."""

from cluster.scheduler.plugins.interpodaffinity.inter_pod_affinity import InterPodAffinity

__all__ = ["InterPodAffinity"]
