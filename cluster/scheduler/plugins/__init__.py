"""The in-tree plugins, one folder each, and the registry that names them.

`default_registry()` maps each plugin's name to a factory `(args, handle) -> plugin`; which of
them run, in which order and with which weights is FrameworkConfig's business. Out-of-tree
plugins are added by passing a registry that extends this one.
"""

from __future__ import annotations

from cluster.scheduler.framework import Registry
from cluster.scheduler.plugins.defaultbinder import DefaultBinder
from cluster.scheduler.plugins.interpodaffinity import InterPodAffinity
from cluster.scheduler.plugins.nodeaffinity import NodeAffinity
from cluster.scheduler.plugins.nodename import NodeName
from cluster.scheduler.plugins.noderesources import BalancedAllocation, Fit
from cluster.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from cluster.scheduler.plugins.tainttoleration import TaintToleration


def default_registry() -> Registry:
    return {
        NodeUnschedulable.name: lambda args, handle: NodeUnschedulable(args),
        NodeName.name: lambda args, handle: NodeName(args),
        TaintToleration.name: lambda args, handle: TaintToleration(args),
        NodeAffinity.name: lambda args, handle: NodeAffinity(args),
        Fit.name: lambda args, handle: Fit(args),
        BalancedAllocation.name: lambda args, handle: BalancedAllocation(args),
        InterPodAffinity.name: InterPodAffinity,
        DefaultBinder.name: DefaultBinder,
    }
