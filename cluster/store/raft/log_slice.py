"""Size limiting for runs of entries, shared by storage and the in-memory log."""

from __future__ import annotations

from cluster.store.raft.messages import Entry

# Bytes an entry's envelope (term, index, type) costs on the wire, so that even empty entries count.
ENTRY_OVERHEAD = 16


def limit_size(entries: list[Entry], max_size: int) -> list[Entry]:
    """The longest prefix that fits in max_size bytes (0: no limit); never empty if entries isn't."""
    if max_size <= 0 or len(entries) <= 1:
        return entries
    total = ENTRY_OVERHEAD + len(entries[0].data)
    for i in range(1, len(entries)):
        total += ENTRY_OVERHEAD + len(entries[i].data)
        if total > max_size:
            return entries[:i]
    return entries
