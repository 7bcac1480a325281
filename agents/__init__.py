"""raykube's node agents: the kubelet (pods on Podman) and the hollow node used by benchmarks."""
