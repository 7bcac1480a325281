"""raykube's control plane: the store, the API server, the scheduler, bootstrap and the CLI."""
