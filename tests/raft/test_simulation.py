"""Drives the deterministic simulation over many seeds (RAYKUBE_RAFT_SEEDS, default 3000).

Seeds are split into chunks so progress shows and a failure names its chunk; every failure message
carries the command that replays it with a trace.
"""

from __future__ import annotations

import os

import pytest
from simulation import Simulation, run_seed

SEEDS = int(os.environ.get("RAYKUBE_RAFT_SEEDS", "3000"))
CHUNKS = 10


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_simulation_seeds(chunk: int) -> None:
    failures = [f for seed in range(chunk, SEEDS, CHUNKS) if (f := run_seed(seed)) is not None]
    assert not failures, f"{len(failures)} failing seeds:\n" + "\n".join(failures[:5])


def test_same_seed_replays_identically() -> None:
    traces: list[list[str]] = [[], []]
    for trace in traces:
        Simulation(7, trace=trace.append).run()
    assert traces[0] == traces[1]
    assert any("is leader at term" in line for line in traces[0])
