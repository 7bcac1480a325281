"""Node resources: fit (filter + load-spreading score) and balanced allocation (score)."""

from cluster.scheduler.plugins.noderesources.balanced_allocation import BalancedAllocation
from cluster.scheduler.plugins.noderesources.fit import Fit

__all__ = ["BalancedAllocation", "Fit"]
