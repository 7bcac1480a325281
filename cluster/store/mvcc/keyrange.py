"""etcd's key-range convention, in one place.

A request names keys with (key, range_end):
    range_end == b""      the single key `key`
    range_end == b"\\0"    every key >= key          (with key == b"\\0": every key)
    otherwise             every key in [key, range_end)   (empty when range_end <= key)
`cluster.etcd_keys.prefix_end(p)` gives the range_end that selects every key starting with p.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyRange:
    start: bytes
    end: bytes | None  # None: no upper bound
    single: bool

    @classmethod
    def of(cls, key: bytes, range_end: bytes) -> KeyRange:
        if not range_end:
            return cls(key, None, True)
        if range_end == b"\0":
            return cls(key, None, False)
        return cls(key, range_end, False)

    def __contains__(self, key: bytes) -> bool:
        if self.single:
            return key == self.start
        return key >= self.start and (self.end is None or key < self.end)
