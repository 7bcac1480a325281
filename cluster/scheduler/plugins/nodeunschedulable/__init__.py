"""Cordoned nodes take no new pods unless tolerated."""

from cluster.scheduler.plugins.nodeunschedulable.node_unschedulable import NodeUnschedulable

__all__ = ["NodeUnschedulable"]
