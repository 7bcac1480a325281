"""The store: an etcd v3-compatible key-value store (see ARCHITECTURE.md), one idea per module.

State machine (pure, deterministic; no I/O, no clock):
    mvcc.py         StateMachine: apply(entry) -> response, range(), snapshot()/restore()
    keyspace.py     per-key revision histories in key order; compaction
    sortedkeys.py   the sorted key set behind range reads
    events.py       applied changes by revision: the buffer watchers read from
    leases.py       the lease table as data
    validation.py   etcd's stateless request checks (edge and apply)
    keyrange.py     etcd's (key, range_end) convention
Durability and replication (the shell around raft/, the pure Raft core):
    wal.py          generic CRC-checked, segmented write-ahead log
    snapshot.py     atomic snapshot files
    raft_storage.py the Raft log on disk: raft's Storage over the WAL and snapshot files
    raft_codec.py   the Raft core's types to and from protobuf
    replicator.py   the Replicator protocol: the seam the data servicers use
    raft_replicator.py  the Raft shell: ticks, Ready handling, proposals, snapshots, leadership
    read_index.py   batched ReadIndex rounds for linearizable reads
    proposals.py    requests waiting for their entries: queued, proposed, answered, timed out
    request_ids.py  cluster-unique request IDs (a proposer finds its entry)
    transport.py    Raft messages out: a queue and sender per peer
    peer_service.py StorePeer: messages in, member list, leader-side lease calls
    members.py      the replicated member table
    identity.py     a replica's member ID, found or derived once per data directory
    faults.py       TEST ONLY partition injection (StoreAdmin/SetFaults)
    lease_timers.py lease deadlines on the shell's clock; the expiry loop (leader only)
Serving etcd's v3 gRPC API:
    server.py       start_store_node() / StoreNode.stop(); __main__.py runs one replica
    kv_service.py, watch_service.py (+ watch.py), lease_service.py, maintenance_service.py,
    cluster_service.py, rpc.py
    errors.py       the error hierarchy with etcd's texts and gRPC codes
"""
