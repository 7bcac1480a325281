"""Ready pacing: when the replica is CPU-bound, let a Ready gather more work before taking it.

Why: every Ready costs the same fixed work whatever it carries (a WAL write and an fsync handed
to a thread, a stream write per peer and the peer's read, Raft's bookkeeping, a wake-up of each
waiter), and in Python on a busy machine that fixed part dominates: measured with 256 put
clients on two cores, a Ready carried ~4 entries and the three replicas spent ~1 ms of CPU per
put. Waiting a few milliseconds before taking the Ready, while proposals and peer messages keep
arriving, turns many small Readies into few large ones (10 ms: ~35 entries each, 0.5 ms per
put; 256 clients then put 1.4-1.5x faster, while 16 clients, whose loop lag stays low, keep
their rate).

But waiting only pays when there is work to gather and no idle CPU to spend: with one client a
linger is pure latency. The signal is the event loop's own lag: how long one trip round the loop
takes (the ready loop yields once and times it). An idle loop comes back within microseconds; a
loop (or a machine) saturated with requests takes hundreds. The pacer keeps a moving average of
that lag and lingers `linger` seconds while it says the replica is busy, so light load keeps its
latency and heavy load gets group commit. Lingering itself relieves the loop, so the lag falls
once pacing works; with a single threshold pacing would switch itself off again and the Readies
would shrink back. Hence two: busy above `busy_lag`, and busy until the average falls below
`idle_lag` (measured here: a saturated replica lingering keeps 0.4-3 ms of lag, one serving 16
clients stays under 0.1 ms). A sample counts for at most twice `busy_lag`, so that only lag that
lasts makes the replica busy, not one long pause: with a single 5 ms pause counted in full, a
replica serving 16 clients lingered for the dozen Readies it took the average to fall again, and
lost 10-15% of its puts.

Pure logic (no clock, no loop): the replicator measures, `Pacer` decides.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PacingOptions:
    linger: float = 0.01  # seconds a Ready may wait for more work while the replica is busy; 0: never
    busy_lag: float = 0.0004  # average loop lag (seconds) above which the replica becomes busy
    idle_lag: float = 0.00015  # ... and below which it is idle again
    smoothing: float = 0.1  # weight of the newest lag sample in the moving average


class Pacer:
    def __init__(self, options: PacingOptions) -> None:
        self._options = options
        self.average_lag = 0.0
        self.busy = False
        self.lingered = 0  # Readies that waited, since start (for status and tests)

    def linger(self, lag: float) -> float:
        """Seconds to wait before taking the next Ready, given the loop lag just measured."""
        options = self._options
        sample = min(lag, 2 * options.busy_lag)  # one hiccup (a GC pause, a preemption) is not load
        self.average_lag += options.smoothing * (sample - self.average_lag)
        if self.average_lag > options.busy_lag:
            self.busy = True
        elif self.average_lag < options.idle_lag:
            self.busy = False
        if options.linger <= 0 or not self.busy:
            return 0.0
        self.lingered += 1
        return max(0.0, options.linger - lag)
