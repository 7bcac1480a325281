"""Pods pinned by spec.nodeName fit only their node."""

from cluster.scheduler.plugins.nodename.node_name import NodeName

__all__ = ["NodeName"]
