"""raykube's benchmarks: `python -m benchmarks.<name>` prints a table and saves JSON + PNG in results/."""
