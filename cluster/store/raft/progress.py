"""What a leader knows about one follower's log, and how it paces replication to it.

States (as in etcd's tracker):
- PROBE: the leader does not know where the follower's log matches; at most one MsgApp in flight, then
  wait for an answer (or a heartbeat response) before the next.
- REPLICATE: logs match up to `match`; entries stream optimistically (`next` advances on send), bounded by
  the inflights window.
- SNAPSHOT: the follower needs a snapshot (`pending_snapshot`); nothing else is sent until it is reported.
Invariant: match < next.
"""

from __future__ import annotations

import enum

from cluster.store.raft.inflights import Inflights


class ProgressState(enum.IntEnum):
    PROBE = 0
    REPLICATE = 1
    SNAPSHOT = 2

    @property
    def label(self) -> str:
        return "State" + self.name.capitalize()


class Progress:
    __slots__ = (
        "inflights",
        "match",
        "msg_app_flow_paused",
        "next",
        "pending_snapshot",
        "recent_active",
        "state",
    )

    def __init__(self, match: int, next_index: int, max_inflight: int) -> None:
        self.match = match
        self.next = next_index
        self.state = ProgressState.PROBE
        self.pending_snapshot = 0
        # Set when the follower answered since the last CheckQuorum round.
        self.recent_active = True
        self.msg_app_flow_paused = False
        self.inflights = Inflights(max_inflight)

    def __repr__(self) -> str:
        return (
            f"{self.state.label} match={self.match} next={self.next}"
            + (" paused" if self.is_paused() else "")
            + (f" pendingSnap={self.pending_snapshot}" if self.pending_snapshot else "")
            + (f" inflight={len(self.inflights)}" if len(self.inflights) else "")
        )

    def _reset_state(self, state: ProgressState) -> None:
        self.msg_app_flow_paused = False
        self.pending_snapshot = 0
        self.state = state
        self.inflights.reset()

    def become_probe(self) -> None:
        # Coming out of SNAPSHOT, the follower is expected to hold the snapshot: probe right after it.
        pending = self.pending_snapshot if self.state is ProgressState.SNAPSHOT else 0
        self._reset_state(ProgressState.PROBE)
        self.next = max(self.match + 1, pending + 1)

    def become_replicate(self) -> None:
        self._reset_state(ProgressState.REPLICATE)
        self.next = self.match + 1

    def become_snapshot(self, snapshot_index: int) -> None:
        self._reset_state(ProgressState.SNAPSHOT)
        self.pending_snapshot = snapshot_index

    def sent_entries(self, count: int, last_index: int) -> None:
        """Record a MsgApp carrying `count` entries up to last_index."""
        if self.state is ProgressState.REPLICATE:
            if count:
                self.next = last_index + 1
                self.inflights.add(last_index)
            self.msg_app_flow_paused = self.inflights.full()
        elif count:
            self.msg_app_flow_paused = True

    def maybe_update(self, index: int) -> bool:
        """The follower acknowledged up to index; False if that is old news."""
        updated = False
        if self.match < index:
            self.match = index
            updated = True
            self.msg_app_flow_paused = False
        self.next = max(self.next, index + 1)
        return updated

    def maybe_decr_to(self, rejected: int, match_hint: int) -> bool:
        """The follower rejected the MsgApp at `rejected`: back off `next`. False if the reject is stale."""
        if self.state is ProgressState.REPLICATE:
            if rejected <= self.match:
                return False
            self.next = self.match + 1
            return True
        if self.next - 1 != rejected:
            return False
        self.next = max(min(rejected, match_hint + 1), self.match + 1)
        self.msg_app_flow_paused = False
        return True

    def is_paused(self) -> bool:
        return self.state is ProgressState.SNAPSHOT or self.msg_app_flow_paused
