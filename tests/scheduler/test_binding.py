"""BatchingBinder: binds decided while others are in flight share one round trip; outcomes stay per bind."""

import asyncio
from collections.abc import Sequence

from cluster.errors import ApiError, Conflict, Unavailable
from cluster.scheduler.binding import BatchingBinder
from raykube.v1 import api_pb2


class Api:
    """bind_many that holds each request until the test lets it go."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.gate = asyncio.Event()
        self.fail_whole: ApiError | None = None

    async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> list[str | ApiError]:
        self.requests.append([b.name for b in binds])
        await self.gate.wait()
        if self.fail_whole is not None:
            raise self.fail_whole
        return [self._outcome(b) for b in binds]

    @staticmethod
    def _outcome(bind: api_pb2.BindRequest) -> str | ApiError:
        if bind.name.startswith("stale"):
            return Conflict(f"{bind.name} moved on")
        return f"{bind.name}@{bind.node_name}"  # stands for the resourceVersion


async def bind_all(binder: BatchingBinder, api: Api, names: list[str]) -> list[object]:
    tasks = [asyncio.create_task(binder.bind("default", n, "n1", uid=f"u-{n}")) for n in names]
    await asyncio.sleep(0.01)  # every bind has been decided; the first ones are in flight
    api.gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_binds_queued_behind_full_slots_travel_together_and_fail_alone() -> None:
    async def scenario() -> tuple[list[list[str]], list[object]]:
        api = Api()
        outcomes = await bind_all(BatchingBinder(api, max_in_flight=2), api, ["a", "b", "c", "stale-d", "e"])
        return api.requests, outcomes

    requests, outcomes = asyncio.run(scenario())
    assert requests == [["a"], ["b"], ["c", "stale-d", "e"]]
    names = [o if isinstance(o, str) else type(o).__name__ for o in outcomes]
    assert names == ["a@n1", "b@n1", "c@n1", "Conflict", "e@n1"]


def test_a_request_that_fails_as_a_whole_fails_each_bind_in_it() -> None:
    async def scenario() -> list[object]:
        api = Api()
        api.fail_whole = Unavailable("no API server answers")
        return await bind_all(BatchingBinder(api, max_in_flight=1, max_batch=2), api, ["a", "b", "c", "d"])

    outcomes = asyncio.run(scenario())
    assert [type(o) for o in outcomes] == [Unavailable] * 4


def test_a_bug_in_the_request_reaches_every_waiting_bind() -> None:
    class Broken(Api):
        async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> list[str | ApiError]:
            await self.gate.wait()
            raise RuntimeError("bug")

    async def scenario() -> list[object]:
        api = Broken()
        return await bind_all(BatchingBinder(api, max_in_flight=1), api, ["a", "b"])

    assert [type(o) for o in asyncio.run(scenario())] == [RuntimeError, RuntimeError]
