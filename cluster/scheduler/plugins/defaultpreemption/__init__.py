"""When no node fits, make room on one by evicting lower-priority pods (post_filter)."""

from cluster.scheduler.plugins.defaultpreemption.default_preemption import DefaultPreemption

__all__ = ["DefaultPreemption"]
