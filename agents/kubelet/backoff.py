"""Exponential back-off per key, as Kubernetes' flowcontrol.Backoff: 10 s doubling to 5 min.

Used for container restarts (key: pod uid + container name; event time: when the container
finished) and image pulls (key: image; event time: the failed pull). It reads no clock: callers
pass times in, so tests drive it with plain numbers and the plan that consults it stays pure.

    remaining(key, since, now)  seconds still to wait after an event at `since` (0: go ahead)
    next(key, since)            record an attempt after an event at `since`: the wait doubles

An entry whose last update is more than twice the maximum before the event is stale: the wait
starts from the initial value again (a container that ran fine for 10 minutes is not punished).
Single-threaded (the event loop's); not shared across processes; lost on restart, like Kubernetes'.
"""

from __future__ import annotations

from dataclasses import dataclass

INITIAL = 10.0
MAXIMUM = 300.0


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = INITIAL, maximum: float = MAXIMUM):
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, _Entry] = {}

    def _current(self, key: str, since: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None or since - entry.last_update > 2 * self.maximum:
            return None
        return entry

    def remaining(self, key: str, since: float | None, now: float) -> float:
        """Seconds to wait after an event at `since` (default: the last recorded attempt)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        event = entry.last_update if since is None else since
        if self._current(key, event) is None:
            return 0.0
        return max(0.0, entry.delay - (now - event))

    def next(self, key: str, since: float) -> float:
        """Record an attempt after an event at `since`; the delay the next attempt will wait."""
        entry = self._current(key, since)
        delay = self.initial if entry is None else min(entry.delay * 2, self.maximum)
        self._entries[key] = _Entry(delay, since)
        return delay

    def delay(self, key: str) -> float:
        """The wait the last recorded attempt set (0 without one)."""
        entry = self._entries.get(key)
        return entry.delay if entry is not None else 0.0

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]
