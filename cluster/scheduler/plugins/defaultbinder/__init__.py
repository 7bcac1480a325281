"""Binding through the API with uid + resourceVersion preconditions."""

from cluster.scheduler.plugins.defaultbinder.default_binder import DefaultBinder

__all__ = ["DefaultBinder"]
