"""TaintToleration: a node's NoSchedule/NoExecute taints keep out pods that do not tolerate them."""

from cluster.scheduler.plugins.tainttoleration.taint_toleration import (
    TaintToleration,
    untolerated_taint_reason,
)

__all__ = ["TaintToleration", "untolerated_taint_reason"]
