"""Flow control: the MsgApps a leader has sent to one follower and not yet seen acknowledged."""

from __future__ import annotations

from collections import deque


class Inflights:
    """A bounded FIFO of the last index of each in-flight MsgApp.

    Invariant: indexes are increasing; len() <= capacity. An ack for index i frees every message whose
    last entry is <= i (acks are cumulative).
    """

    __slots__ = ("_indexes", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._indexes: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._indexes)

    def full(self) -> bool:
        return len(self._indexes) >= self.capacity

    def add(self, last_index: int) -> None:
        if self.full():
            raise OverflowError("inflights full: the caller must check full() first")
        if self._indexes and last_index <= self._indexes[-1]:
            raise ValueError(f"inflight {last_index} not after {self._indexes[-1]}")
        self._indexes.append(last_index)

    def free_le(self, index: int) -> None:
        indexes = self._indexes
        while indexes and indexes[0] <= index:
            indexes.popleft()

    def reset(self) -> None:
        self._indexes.clear()
