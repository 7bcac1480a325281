"""Request IDs unique across the cluster and across restarts (etcd's idutil.Generator).

Every replica applies every entry, and a proposer recognises its own entry by this ID, so two
replicas must never hand out the same one, nor one replica before and after a restart. Layout:
the member ID's low 16 bits, then 48 bits that start at the current time in milliseconds shifted
left by 8 and count up from there (a restart starts beyond anything handed out before, unless
the process issued more than 256 IDs per millisecond for the whole time it ran).
"""

from __future__ import annotations

import time
from collections.abc import Callable

_SUFFIX_BITS = 48
_SUFFIX_MASK = (1 << _SUFFIX_BITS) - 1


class RequestIds:
    def __init__(
        self, member_id: int, clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000
    ) -> None:
        self._prefix = (member_id & 0xFFFF) << _SUFFIX_BITS
        self._suffix = (clock_ms() << 8) & _SUFFIX_MASK

    def next(self) -> int:
        self._suffix = (self._suffix + 1) & _SUFFIX_MASK
        return self._prefix | self._suffix
