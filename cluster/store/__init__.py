"""The store: an etcd v3-compatible key-value store (ARCHITECTURE.md), in layers that import downward.

    raft/          the pure Raft core: no I/O, no clock; driven by tick()/step(), hands back a Ready
    mvcc/          the replicated state machine: etcd's MVCC keyspace, leases, request checks (pure)
    replication/   the Raft I/O shell: WAL, snapshots, on-disk Raft storage, peer transport,
                   proposals, ReadIndex, members, a replica's identity, lease timers
    v3rpc/         the gRPC services a replica serves: etcd's v3 API (KV, Watch, Lease, Cluster,
                   Maintenance) to clients, StorePeer to peers, StoreAdmin (test-only) to tests
    server.py      start_store_node(): assembles one replica from the layers above
    __main__.py    runs one replica as a process with etcd-like flags
    errors.py      the error hierarchy with etcd's texts and gRPC codes (shared by every layer)

The layering is checked by the import contracts in pyproject.toml (tests/test_layers.py).
"""
