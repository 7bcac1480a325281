"""TEST ONLY: fault injection in the peer transport (partitions), off unless a test turns it on.

A `Faults` object names the peers this replica is cut off from: the transport drops every Raft
message to them and every Raft message from them, as a network partition would (nothing is
reported: a partition is silence, and Raft's timeouts notice it). Healing is `set(())`.

Two ways to drive it: in-process (`node.faults.set({peer_id})`), or from another process through
`raykube.store.v1.StoreAdmin/SetFaults` on the node's client address (v3rpc/admin_service.py),
which a node serves only when started with `fault_injection=True` (`--enable-fault-injection`):
production nodes do not expose it. Only Raft messages are affected; client calls and lease forwarding are not.
Event-loop only, like the transport that reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)


class Faults:
    def __init__(self) -> None:
        self.dropped: frozenset[int] = frozenset()

    def set(self, dropped: Iterable[int]) -> None:
        """Cut this replica off from exactly these peers (empty: heal everything)."""
        self.dropped = frozenset(dropped)
        log.warning("fault injection: dropping messages to and from %s", sorted(self.dropped) or "nobody")

    def blocks(self, peer: int) -> bool:
        return peer in self.dropped
