"""raykube's benchmarks: `python -m benchmarks.<name>` prints a table and saves JSON + PNG in results/.

Benchmarks run throwaway single-machine clusters, all on loopback: Ray's environment is set here,
before any benchmark imports Ray (which reads it once, at import).
"""

from cluster.bootstrap.ray_head import apply_ray_env

apply_ray_env(loopback=True)
