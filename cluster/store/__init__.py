"""The store: an etcd v3-compatible key-value store (see ARCHITECTURE.md), one idea per module.

State machine (pure, deterministic; no I/O, no clock):
    mvcc.py         StateMachine: apply(entry) -> response, range(), snapshot()/restore()
    keyspace.py     per-key revision histories in key order; compaction
    sortedkeys.py   the sorted key set behind range reads
    events.py       applied changes by revision: the buffer watchers read from
    leases.py       the lease table as data
    validation.py   etcd's stateless request checks (edge and apply)
    keyrange.py     etcd's (key, range_end) convention
Durability and replication (the shell):
    wal.py          generic CRC-checked, segmented write-ahead log
    snapshot.py     atomic snapshot files
    replicator.py   the Replicator protocol: where Raft plugs in
    local_replicator.py  single replica: group commit to the WAL, apply, snapshot
    lease_timers.py lease deadlines on the shell's clock; the expiry loop
Serving etcd's v3 gRPC API:
    server.py       start_store_node() / StoreNode.stop()
    kv_service.py, watch_service.py (+ watch.py), lease_service.py, maintenance_service.py, rpc.py
    errors.py       the error hierarchy with etcd's texts and gRPC codes
raft/ is the pure Raft core, developed separately.
"""
