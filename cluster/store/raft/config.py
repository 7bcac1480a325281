"""Configuration of one Raft node. All randomness comes from `rng`, so a seeded Random replays exactly."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Config:
    id: int
    # An election starts after a random number of ticks in [election_tick, 2 * election_tick) without
    # hearing from a leader; a leader sends heartbeats every heartbeat_tick ticks.
    election_tick: int = 10
    heartbeat_tick: int = 1
    # The index the application has applied (restart: entries after it are handed out again).
    applied: int = 0
    # Payload bytes per MsgApp (0: unlimited; one entry is always sent) and MsgApps in flight per follower.
    max_size_per_msg: int = 1 << 20
    max_inflight_msgs: int = 256
    pre_vote: bool = True
    check_quorum: bool = True
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def validate(self) -> None:
        if self.id <= 0:
            raise ValueError("node id must be positive")
        if self.heartbeat_tick <= 0:
            raise ValueError("heartbeat_tick must be positive")
        if self.election_tick <= self.heartbeat_tick:
            raise ValueError("election_tick must be greater than heartbeat_tick")
        if self.max_inflight_msgs <= 0:
            raise ValueError("max_inflight_msgs must be positive")
