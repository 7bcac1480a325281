"""The replicated state machine: etcd's v3 MVCC model, pure and deterministic (no I/O, no clock).

state_machine.py  StateMachine: apply(entry) -> response, range(), snapshot()/restore()
keyspace.py       per-key revision histories in key order; compaction
sortedkeys.py     the sorted key set behind range reads
events.py         applied changes by revision: the buffer watchers read from
leases.py         the lease table as data
validation.py     etcd's stateless request checks (at the edge and at apply)
keyrange.py       etcd's (key, range_end) convention
"""
