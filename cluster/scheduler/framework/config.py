"""Which plugins run, in which order, with which score weights: configuration, not code.

`plugins` names the enabled plugins; each runs at every extension point it implements, in this
order (so the first filter to reject a node names the reason, as in kube-scheduler's default
order). A plugin scores only if `score_weights` gives it a weight. `plugin_args` passes each
plugin's own settings to its factory. The defaults are kube-scheduler's default profile, minus the
plugins raykube has no objects for (volumes, dynamic resources).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_PLUGINS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "PodTopologySpread",
    "InterPodAffinity",
    "DefaultPreemption",
    "NodeResourcesBalancedAllocation",
    "ImageLocality",
    "DefaultBinder",
)
DEFAULT_SCORE_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
)


@dataclass(frozen=True)
class FrameworkConfig:
    plugins: tuple[str, ...] = DEFAULT_PLUGINS
    score_weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SCORE_WEIGHTS))
    plugin_args: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = [f"duplicate plugin {n!r}" for n in set(self.plugins) if self.plugins.count(n) > 1]
        problems += [
            f"score weight for {n!r}, which is not enabled"
            for n in self.score_weights
            if n not in self.plugins
        ]
        problems += [
            f"weight of {n!r} must be positive, not {w}" for n, w in self.score_weights.items() if w <= 0
        ]
        problems += [
            f"args for {n!r}, which is not enabled" for n in self.plugin_args if n not in self.plugins
        ]
        if problems:
            raise ValueError("invalid scheduler framework config: " + "; ".join(sorted(problems)))
