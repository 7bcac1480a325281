"""Hollow nodes: kubelets without containers, for benchmarks at a scale one machine cannot run for real."""
