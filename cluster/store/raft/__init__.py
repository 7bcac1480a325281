"""A pure Raft consensus core (etcd-io/raft model): no I/O, no clock; driven by tick() and step()."""
