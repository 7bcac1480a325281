"""etcd's key-range convention, shared by the store (which serves ranges) and the API server (an etcd client).

A range is [key, range_end): range_end "\\0" means "every key >= key", and the range_end computed
by `prefix_end` selects every key that starts with a prefix (etcd's GetPrefixRangeEnd).
"""

from __future__ import annotations


def prefix_end(prefix: bytes) -> bytes:
    """The range_end selecting all keys with this prefix: the prefix with its last byte below 0xff
    incremented (trailing 0xff bytes dropped); "\\0" (everything from the key on) if there is none."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b"\0"
