"""Kubernetes' restart back-off: 10 s doubling to 5 min, reset after a long quiet period."""

from __future__ import annotations

from agents.kubelet.backoff import Backoff


def test_first_event_is_free_then_the_wait_doubles_up_to_the_maximum() -> None:
    backoff = Backoff()
    assert backoff.remaining("k", since=100, now=100) == 0  # no history: go ahead
    delays = [backoff.next("k", since=100 + i) for i in range(8)]
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]


def test_remaining_counts_from_the_event() -> None:
    backoff = Backoff()
    backoff.next("k", since=100)
    assert backoff.remaining("k", since=104, now=104) == 10
    assert backoff.remaining("k", since=104, now=110) == 4
    assert backoff.remaining("k", since=104, now=114) == 0
    assert backoff.remaining("k", since=None, now=103) == 7  # since the last recorded attempt


def test_a_long_quiet_period_resets_to_the_initial_wait() -> None:
    backoff = Backoff()
    for i in range(5):
        backoff.next("k", since=i)
    assert backoff.delay("k") == 160
    assert backoff.remaining("k", since=4 + 601, now=4 + 601) == 0
    assert backoff.next("k", since=4 + 601) == 10


def test_keys_are_independent_and_forgotten_by_prefix() -> None:
    backoff = Backoff(initial=1, maximum=4)
    backoff.next("pod-a/c", 0)
    backoff.next("pod-a/c", 1)
    backoff.next("pod-b/c", 0)
    assert (backoff.delay("pod-a/c"), backoff.delay("pod-b/c")) == (2, 1)
    backoff.forget_prefix("pod-a/")
    assert (backoff.delay("pod-a/c"), backoff.delay("pod-b/c")) == (0, 1)
