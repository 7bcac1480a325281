"""Taints and tolerations (filter on NoSchedule/NoExecute, score on PreferNoSchedule)."""

from cluster.scheduler.plugins.tainttoleration.taint_toleration import (
    TaintToleration,
    tolerated,
    tolerates,
    untolerated_taint_reason,
)

__all__ = ["TaintToleration", "tolerated", "tolerates", "untolerated_taint_reason"]
