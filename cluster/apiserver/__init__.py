"""The API server: authenticates, authorizes, validates and defaults, stores in etcd, fans out watches."""
