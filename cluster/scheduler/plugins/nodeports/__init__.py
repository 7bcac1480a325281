"""A pod's hostPorts must be free on the node (filter)."""

from cluster.scheduler.plugins.nodeports.node_ports import NodePorts

__all__ = ["NodePorts"]
