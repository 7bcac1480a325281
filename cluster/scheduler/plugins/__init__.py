"""The in-tree plugins, one folder each, and the registry that names them.

`default_registry()` maps each plugin's name to a factory `(args, handle) -> plugin`; which of
them run, in which order and with which weights is FrameworkConfig's business. Out-of-tree
plugins are added by passing a registry that extends this one.
"""

from __future__ import annotations

from collections.abc import Callable

from cluster.scheduler.framework import Handle, Plugin, PluginArgs, PluginFactory, Registry
from cluster.scheduler.plugins.defaultbinder import DefaultBinder
from cluster.scheduler.plugins.defaultpreemption import DefaultPreemption
from cluster.scheduler.plugins.imagelocality import ImageLocality
from cluster.scheduler.plugins.interpodaffinity import InterPodAffinity
from cluster.scheduler.plugins.nodeaffinity import NodeAffinity
from cluster.scheduler.plugins.nodename import NodeName
from cluster.scheduler.plugins.nodeports import NodePorts
from cluster.scheduler.plugins.noderesources import BalancedAllocation, Fit
from cluster.scheduler.plugins.nodeunschedulable import NodeUnschedulable
from cluster.scheduler.plugins.podtopologyspread import PodTopologySpread
from cluster.scheduler.plugins.tainttoleration import TaintToleration


def default_registry() -> Registry:
    return {
        NodeUnschedulable.name: _without_settings(lambda handle: NodeUnschedulable()),
        NodeName.name: _without_settings(lambda handle: NodeName()),
        TaintToleration.name: _without_settings(lambda handle: TaintToleration()),
        NodeAffinity.name: _without_settings(lambda handle: NodeAffinity()),
        NodePorts.name: _without_settings(lambda handle: NodePorts()),
        Fit.name: lambda args, handle: Fit(args),
        BalancedAllocation.name: _without_settings(lambda handle: BalancedAllocation()),
        PodTopologySpread.name: _without_settings(PodTopologySpread),
        InterPodAffinity.name: InterPodAffinity,
        DefaultPreemption.name: _without_settings(DefaultPreemption),
        ImageLocality.name: _without_settings(ImageLocality),
        DefaultBinder.name: DefaultBinder,
    }


def _without_settings(make: Callable[[Handle], Plugin]) -> PluginFactory:
    """A factory for a plugin that takes no args (some take the handle)."""

    def factory(args: PluginArgs, handle: Handle) -> Plugin:
        plugin = make(handle)
        if args:
            raise ValueError(f"{plugin.name} takes no args, got: {', '.join(sorted(args))}")
        return plugin

    return factory
