"""How committed entries reach the state machine: the seam between the store and consensus.

The gRPC servicers for data (KV, Watch) only ever talk to a `Replicator`: they propose writes and
wait for the state machine's answer, and they ask for a read barrier before reading local state.
The implementation is `RaftReplicator` (raft_replicator.py): `propose` appends to the Raft log and
resolves once the entry is committed *and applied locally*; `read_barrier(False)` is ReadIndex
(wait until the local applied index reaches the leader's commit index at the time of the call);
`status()` reports the real term and leader. Every replica applies the same entries through
`StateMachine.apply` and reports them to the same `on_applied` callback (watch wake-ups, lease
timers). Leadership, membership and lease forwarding need more than this seam and use
RaftReplicator directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cluster.store.errors import StoreError
from cluster.store.mvcc.state_machine import Response
from raykube.store.v1 import store_pb2

Applied = tuple[store_pb2.Entry, Response | StoreError]
# Called on the event loop after each applied batch, in log order, before any proposer resumes.
OnApplied = Callable[[Sequence[Applied]], None]


@dataclass(frozen=True, slots=True)
class ReplicatorStatus:
    member_id: int
    leader_id: int  # 0: no leader known
    term: int
    commit_index: int
    applied_index: int


class Replicator(Protocol):
    async def propose(self, entry: store_pb2.Entry) -> Response:
        """Make `entry` durable (committed), apply it, and return the state machine's response.

        Raises the StoreError the state machine raised for it, or Stopped when the replicator
        shuts down first. The entry's `id` is assigned here.
        """
        ...

    async def read_barrier(self, serializable: bool) -> None:
        """Return once local state reflects every write acknowledged before this call.

        `serializable=True` skips the barrier (etcd's serializable reads: possibly stale).
        """
        ...

    def status(self) -> ReplicatorStatus: ...
