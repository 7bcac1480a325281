"""Prefer nodes that already hold the pod's images (score)."""

from cluster.scheduler.plugins.imagelocality.image_locality import ImageLocality

__all__ = ["ImageLocality"]
