"""A sorted set of byte strings with cheap inserts: the key order behind every range read.

One flat sorted list costs a memmove of the whole list per new key; at a million keys that
dominates a put. Here keys live in sorted chunks of at most `_CHUNK_MAX`, with each chunk's first
key in `_firsts`, so an insert is two bisections and a short list insert.

Invariants: every chunk is non-empty and sorted; chunks are in order and do not overlap;
`_firsts[i] == _chunks[i][0]`. Not thread-safe: owned by one state machine.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator

_CHUNK_MAX = 1024


class SortedKeys:
    def __init__(self, keys: Iterable[bytes] = ()) -> None:
        self._chunks: list[list[bytes]] = []
        self._firsts: list[bytes] = []
        self._len = 0
        self._rebuild(sorted(set(keys)))

    def _rebuild(self, flat: list[bytes]) -> None:
        half = _CHUNK_MAX // 2
        self._chunks = [flat[i : i + half] for i in range(0, len(flat), half)]
        self._firsts = [chunk[0] for chunk in self._chunks]
        self._len = len(flat)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            yield from chunk

    def add(self, key: bytes) -> None:
        """Insert `key`; a key already present is left alone."""
        if not self._chunks:
            self._chunks, self._firsts, self._len = [[key]], [key], 1
            return
        ci = max(bisect_right(self._firsts, key) - 1, 0)
        chunk = self._chunks[ci]
        i = bisect_left(chunk, key)
        if i < len(chunk) and chunk[i] == key:
            return
        chunk.insert(i, key)
        self._len += 1
        self._firsts[ci] = chunk[0]
        if len(chunk) > _CHUNK_MAX:
            tail = chunk[len(chunk) // 2 :]
            del chunk[len(chunk) // 2 :]
            self._chunks.insert(ci + 1, tail)
            self._firsts.insert(ci + 1, tail[0])

    def remove_all(self, dead: set[bytes]) -> None:
        """Remove every key in `dead` (one pass; compaction drops many keys at once)."""
        if dead:
            self._rebuild([k for k in self if k not in dead])

    def irange(self, start: bytes, end: bytes | None) -> Iterator[bytes]:
        """Keys k with start <= k < end, ascending; `end=None` means no upper bound."""
        if not self._chunks:
            return
        ci = max(bisect_right(self._firsts, start) - 1, 0)
        i = bisect_left(self._chunks[ci], start)
        for chunk in self._chunks[ci:]:
            if end is not None and chunk[-1] >= end:
                yield from chunk[i : bisect_left(chunk, end, i)]
                return
            yield from chunk[i:] if i else chunk
            i = 0
