"""Test-wide setup: every cluster a test starts is a single-machine one, confined to loopback.

Ray reads its environment once, when first imported, so it is set here, before any test module
imports Ray.
"""

from cluster.bootstrap.ray_head import apply_ray_env

apply_ray_env(loopback=True)
