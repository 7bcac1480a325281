"""CycleState: what one scheduling attempt's plugins hand from one extension point to the next.

A fresh CycleState is made for every attempt at one pod, so nothing computed for one pod (or one
attempt) leaks into another. A plugin's pre_filter writes under a `StateKey` it owns and its
filter reads it back; the key carries the value's type, so reads are typed without casts.
It is used from one task at a time (the decision is synchronous; the later bind reads only).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


class StateKey(Generic[T]):
    """A typed slot name; plugins make one at module level (`KEY = StateKey[Counts]("name")`)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"StateKey({self.name!r})"


class CycleState:
    __slots__ = ("_data", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[StateKey[Any], Any] = {}
        self.skip_filter: set[str] = set()  # plugins whose pre_filter said SKIP
        self.skip_score: set[str] = set()  # plugins whose pre_score said SKIP

    def write(self, key: StateKey[T], value: T) -> None:
        self._data[key] = value

    def get(self, key: StateKey[T]) -> T | None:
        """The value written under `key`, or None if nothing was (an optional hand-over)."""
        value: T | None = self._data.get(key)
        return value

    def read(self, key: StateKey[T]) -> T:
        """The value written under `key`; KeyError means the plugin's pre-step did not run (a bug)."""
        value: T = self._data[key]
        return value
