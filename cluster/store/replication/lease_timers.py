"""Where lease time lives: deadlines on the shell's clock, and the loop that expires leases.

The state machine knows which leases exist and their granted TTL, never when they run out
(that would make it depend on a clock). This module keeps a deadline per lease on an injected
clock (`time.monotonic` in production, a fake one in tests):

- a lease starts its TTL when its grant is applied, and again when the node restarts (etcd
  also gives every lease a fresh TTL when a new leader takes over);
- a keep-alive restarts the TTL;
- `expire_leases()` periodically proposes a LeaseRevoke for each lease past its deadline, through
  the Replicator like any client write, so the revoke (and its key deletions) reach every replica
  through the log. A lease whose revoke is in flight is not proposed again before `retry` seconds.

With Raft every replica keeps timers (grants and revokes reach all of them), but only the leader
expires leases (`leading`) and answers keep-alives, and a new leader gives every lease a fresh
TTL (`reset`), as etcd's lessor does on promotion. A revoke that fails because the cluster is
unavailable (no leader, a timeout, leadership lost) is tried again `retry` seconds later by
whichever replica leads then. Concurrency: event-loop only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable

from cluster.store.errors import LeaseNotFound, NotLeader, Unavailable
from cluster.store.replication.replicator import Replicator
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class LeaseTimers:
    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._ttl: dict[int, int] = {}
        self._deadline: dict[int, float] = {}

    def start(self, lease: int, ttl: int) -> None:
        self._ttl[lease] = ttl
        self._deadline[lease] = self.clock() + ttl

    def renew(self, lease: int) -> int | None:
        """Restart the lease's TTL; returns it, or None for an unknown lease."""
        ttl = self._ttl.get(lease)
        if ttl is not None:
            self._deadline[lease] = self.clock() + ttl
        return ttl

    def remaining(self, lease: int) -> int:
        """Whole seconds left (rounded down, as etcd reports), 0 once expired, -1 if unknown."""
        deadline = self._deadline.get(lease)
        if deadline is None:
            return -1
        return max(0, math.floor(deadline - self.clock()))

    def reset(self, leases: Iterable[tuple[int, int]]) -> None:
        """Exactly these (lease, TTL) pairs, each with a full TTL from now."""
        self._ttl.clear()
        self._deadline.clear()
        for lease, ttl in leases:
            self.start(lease, ttl)

    def forget(self, lease: int) -> None:
        self._ttl.pop(lease, None)
        self._deadline.pop(lease, None)

    def due(self, retry: float) -> list[int]:
        """Leases past their deadline; each is held back `retry` seconds before it is due again."""
        now = self.clock()
        due = sorted(lease for lease, deadline in self._deadline.items() if deadline <= now)
        for lease in due:
            self._deadline[lease] = now + retry
        return due


async def expire_leases(
    replicator: Replicator,
    timers: LeaseTimers,
    *,
    leading: Callable[[], bool] = lambda: True,
    tick: float = 0.25,
    retry: float = 2.0,
) -> None:
    """Propose a revoke for every expired lease while `leading()`, forever (cancel to stop)."""
    while True:
        due = timers.due(retry) if leading() else []
        if due:
            log.info("leases expired, revoking: %s", ", ".join(f"{lease:x}" for lease in due))
            revokes = (store_pb2.Entry(lease_revoke=rpc_pb2.LeaseRevokeRequest(ID=lease)) for lease in due)
            results = await asyncio.gather(*map(replicator.propose, revokes), return_exceptions=True)
            for lease, result in zip(due, results, strict=True):
                if isinstance(result, LeaseNotFound):
                    timers.forget(lease)  # revoked meanwhile by a client
                elif isinstance(result, Unavailable | NotLeader):
                    log.info("revoking lease %x failed (%s); will retry", lease, result)
                elif isinstance(result, BaseException):
                    raise result
        await asyncio.sleep(tick)
