"""Ready pacing: lingers only while the loop's average lag says the replica is busy, and backs off."""

from __future__ import annotations

import pytest

from cluster.store.replication.pacing import Pacer, PacingOptions

OPTIONS = PacingOptions(linger=0.01, busy_lag=0.0004, smoothing=0.5)


def test_an_idle_loop_never_waits() -> None:
    pacer = Pacer(OPTIONS)
    assert [pacer.linger(0.00002) for _ in range(100)] == [0.0] * 100
    assert pacer.lingered == 0


def test_a_busy_loop_lingers_up_to_the_window_minus_the_lag_already_spent() -> None:
    pacer = Pacer(OPTIONS)
    delays = [pacer.linger(0.002) for _ in range(5)]
    assert delays[0] == pytest.approx(0.008)  # the average (1 ms) is over busy_lag at once
    assert delays[-1] == pytest.approx(0.008)
    assert pacer.lingered == 5


def test_one_slow_trip_round_an_idle_loop_is_smoothed_away() -> None:
    pacer = Pacer(PacingOptions(linger=0.01, busy_lag=0.0004, smoothing=0.1))
    for _ in range(50):
        pacer.linger(0.00002)
    assert pacer.linger(0.002) == 0.0  # a single spike moves the average by a tenth only


def test_pacing_backs_off_once_the_lag_falls() -> None:
    pacer = Pacer(OPTIONS)
    for _ in range(10):
        pacer.linger(0.003)
    assert pacer.linger(0.0001) > 0  # the average is still high
    assert [pacer.linger(0.0001) for _ in range(20)][-1] == 0.0


def test_a_zero_window_turns_pacing_off() -> None:
    pacer = Pacer(PacingOptions(linger=0.0))
    assert pacer.linger(0.05) == 0.0
