"""The store: an etcd v3-compatible, Raft-replicated key-value store (see ARCHITECTURE.md)."""
