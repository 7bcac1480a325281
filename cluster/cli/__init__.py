"""The `raykube` command line: a gRPC client of the API server, shaped like kubectl."""
