"""Leader election's fence in time: a leader that has not renewed within renew_deadline (by its
own clock) stops acting as the leader before its renewal task gets to notice."""

import asyncio
from pathlib import Path

from cluster.client.leaderelection import LeaderElectionConfig, LeaderElector
from tests.harness import control_plane


def test_a_leader_that_missed_its_renewals_is_no_longer_valid(tmp_path: Path) -> None:
    async def scenario() -> list[bool]:
        now = [100.0]
        seen: list[bool] = []
        async with control_plane(tmp_path) as plane, plane.client() as client:
            config = LeaderElectionConfig("demo", identity="a", retry_period=3600)  # renewals never run here
            elector = LeaderElector(client, config, clock=lambda: now[0])

            async def lead() -> None:
                seen.append(elector.valid())
                now[0] += config.renew_deadline - 0.5
                seen.append(elector.valid())
                now[0] += 1.0  # past the deadline, and the renewal task has not run
                seen.append(elector.valid())

            await elector.run(lead)
            seen.append(elector.valid())  # not leading any more at all
        return seen

    assert asyncio.run(scenario()) == [True, True, False, False]
