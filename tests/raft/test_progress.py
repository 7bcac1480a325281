"""Flow control: Inflights and the Progress state machine (probe, replicate, snapshot)."""

from __future__ import annotations

import pytest

from cluster.store.raft.inflights import Inflights
from cluster.store.raft.progress import Progress, ProgressState


def test_inflights_window() -> None:
    inf = Inflights(3)
    for i in (5, 7, 9):
        inf.add(i)
    assert inf.full()
    with pytest.raises(OverflowError):
        inf.add(10)
    inf.free_le(6)
    assert len(inf) == 2 and not inf.full()
    inf.free_le(100)
    assert len(inf) == 0
    with pytest.raises(ValueError):
        inf.add(4)
        inf.add(4)


def test_probe_sends_one_at_a_time() -> None:
    pr = Progress(0, 5, 10)
    assert not pr.is_paused()
    pr.sent_entries(2, 6)
    assert pr.is_paused() and pr.next == 5  # probe does not advance next optimistically
    assert pr.maybe_update(6)
    assert (pr.match, pr.next, pr.is_paused()) == (6, 7, False)


def test_replicate_streams_within_window() -> None:
    pr = Progress(4, 5, 2)
    pr.become_replicate()
    pr.sent_entries(3, 7)
    assert (pr.next, pr.is_paused()) == (8, False)
    pr.sent_entries(1, 8)
    assert pr.is_paused()  # window of 2 messages full
    pr.maybe_update(7)
    pr.inflights.free_le(7)
    pr.msg_app_flow_paused = pr.inflights.full()
    assert not pr.is_paused()


def test_maybe_decr_to_in_probe_uses_hint_and_ignores_stale() -> None:
    pr = Progress(2, 10, 10)
    assert not pr.maybe_decr_to(7, 3)  # stale: we did not send at 7
    assert pr.maybe_decr_to(9, 5)
    assert pr.next == 6  # hint + 1
    assert pr.maybe_decr_to(5, 0)
    assert pr.next == 3  # never below match + 1


def test_maybe_decr_to_in_replicate_falls_back_to_match() -> None:
    pr = Progress(5, 6, 10)
    pr.become_replicate()
    pr.sent_entries(4, 9)
    assert not pr.maybe_decr_to(5, 0)  # rejection at or below match is stale
    assert pr.maybe_decr_to(8, 2)
    assert pr.next == 6


def test_snapshot_state_pauses_until_probe() -> None:
    pr = Progress(3, 4, 10)
    pr.become_snapshot(20)
    assert pr.is_paused() and pr.state is ProgressState.SNAPSHOT
    pr.become_probe()
    assert (pr.state, pr.next, pr.pending_snapshot) == (ProgressState.PROBE, 21, 0)
    pr.become_snapshot(20)
    pr.pending_snapshot = 0  # a failed snapshot
    pr.become_probe()
    assert pr.next == 4
