"""EventRecorder's promise to its caller: recording never waits, and a flood is dropped quietly."""

import asyncio
import logging

import pytest

from cluster.client.events import EventRecorder
from raykube.v1 import pod_pb2


def test_a_full_queue_drops_events_and_warns_once_per_period(caplog: pytest.LogCaptureFixture) -> None:
    async def record() -> EventRecorder:
        recorder = EventRecorder(None, "default-scheduler", capacity=2)  # type: ignore[arg-type]  # never writes
        pod = pod_pb2.Pod(metadata={"name": "p", "namespace": "default", "uid": "u"})
        for i in range(50):
            recorder.event(pod, "Normal", "Scheduled", f"attempt {i}")
        return recorder

    with caplog.at_level(logging.WARNING, logger="cluster.client.events"):
        recorder = asyncio.run(record())
    assert recorder.dropped == 48
    assert [r.getMessage() for r in caplog.records] == [
        "events dropped (too many waiting): 1 so far; the latest: Normal Scheduled: attempt 2"
    ]
