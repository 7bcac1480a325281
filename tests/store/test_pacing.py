"""Ready pacing: lingers while the loop's average lag says the replica is busy, keeps lingering
until the lag has clearly fallen (not at the first dip its own lingering causes), then stops."""

from __future__ import annotations

import pytest

from cluster.store.replication.pacing import Pacer, PacingOptions

OPTIONS = PacingOptions(linger=0.01, busy_lag=0.0004, idle_lag=0.00015, smoothing=0.5)


def test_an_idle_loop_never_waits() -> None:
    pacer = Pacer(OPTIONS)
    assert [pacer.linger(0.00002) for _ in range(100)] == [0.0] * 100
    assert pacer.lingered == 0


def test_a_busy_loop_lingers_up_to_the_window_minus_the_lag_already_spent() -> None:
    pacer = Pacer(OPTIONS)
    delays = [pacer.linger(0.002) for _ in range(5)]
    assert delays[0] == 0.0  # a sample counts for at most 0.8 ms: the average is 0.4 ms, not over
    assert delays[1:] == pytest.approx([0.008] * 4)
    assert pacer.lingered == 4


def test_one_long_pause_does_not_make_the_replica_busy() -> None:
    pacer = Pacer(PacingOptions(linger=0.01, busy_lag=0.0004, idle_lag=0.00015, smoothing=0.1))
    for _ in range(50):
        pacer.linger(0.00005)
    assert pacer.linger(0.05) == 0.0  # a 50 ms pause (a GC, a preemption) counts as 0.8 ms
    assert [pacer.linger(0.00005) for _ in range(20)] == [0.0] * 20


def test_a_lag_between_the_thresholds_keeps_the_state_it_found() -> None:
    between = 0.00025
    idle = Pacer(OPTIONS)
    assert [idle.linger(between) for _ in range(20)] == [0.0] * 20  # never became busy
    busy = Pacer(OPTIONS)
    busy.linger(0.003)
    busy.linger(0.003)
    assert busy.busy
    assert all(delay > 0 for delay in [busy.linger(between) for _ in range(20)])  # stays busy


def test_pacing_stops_once_the_lag_falls_below_the_idle_threshold() -> None:
    pacer = Pacer(OPTIONS)
    for _ in range(10):
        pacer.linger(0.003)
    assert pacer.linger(0.0001) > 0  # the average is still high
    assert [pacer.linger(0.0001) for _ in range(20)][-1] == 0.0
    assert not pacer.busy


def test_a_zero_window_turns_pacing_off() -> None:
    pacer = Pacer(PacingOptions(linger=0.0))
    assert pacer.linger(0.05) == 0.0
