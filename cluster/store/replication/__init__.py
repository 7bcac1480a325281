"""The Raft I/O shell around the pure core (../raft): durability, transport, and waiting requests.

raft_replicator.py  the shell: ticks, Ready handling (persist, send, apply), snapshots, leadership
replicator.py       the Replicator protocol: the seam the gRPC services use
wal.py              a generic CRC-checked, segmented write-ahead log
snapshot.py         atomic snapshot files
raft_storage.py     the Raft log on disk: raft's Storage over the WAL and snapshot files
raft_codec.py       the Raft core's types to and from protobuf
transport.py        Raft messages out: a queue and a sender stream per peer
proposals.py        requests waiting for their entries: queued, proposed, answered, timed out
request_ids.py      cluster-unique request IDs (a proposer finds its entry)
read_index.py       batched ReadIndex rounds for linearizable reads
members.py          the replicated member table
identity.py         a replica's member ID, found or derived once per data directory
lease_timers.py     lease deadlines on the shell's clock; the expiry loop (leader only)
faults.py           TEST ONLY: partition injection in the transport
"""
