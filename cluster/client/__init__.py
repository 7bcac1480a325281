"""How every component and the CLI talk to the API server: a typed async gRPC client and informers."""
