"""The scheduler against a real API server and store (tests/harness.py), over gRPC on loopback."""

import asyncio
from pathlib import Path

from cluster.api import resources
from cluster.scheduler import Scheduler, SchedulerConfig
from raykube.v1 import pod_pb2
from tests.harness import control_plane

from . import builders


def fresh(obj):
    """A builder's object as a client would send it: no uid, no resourceVersion."""
    obj.metadata.ClearField("uid")
    obj.metadata.ClearField("resource_version")
    return obj


def test_schedules_through_a_real_api_server(tmp_path: Path) -> None:
    async def main() -> tuple[dict[str, str], pod_pb2.PodCondition | None]:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            for name in ("n1", "n2", "n3"):
                node = fresh(builders.node(name, cpu="2", memory="4Gi"))
                created = await admin.create(node)
                created.status.CopyFrom(node.status)  # allocatable is status: write it as a kubelet would
                await admin.update_status(created)
            for i in range(6):
                await admin.create(fresh(builders.pod(f"web-{i}", cpu="600m", memory="256Mi")))
            await admin.create(fresh(builders.pod("huge", cpu="3")))
            async with plane.client("scheduler-token") as client:
                task = asyncio.create_task(Scheduler(client, SchedulerConfig(initial_backoff=0.05)).run())
                try:
                    async with asyncio.timeout(20):
                        while True:
                            items, _ = await admin.list(resources.PODS, "default")
                            pods = {p.metadata.name: p for p in items if isinstance(p, pod_pb2.Pod)}
                            huge = next(
                                (c for c in pods["huge"].status.conditions if c.type == "PodScheduled"), None
                            )
                            placed = {n: p.spec.node_name for n, p in pods.items() if n != "huge"}
                            if all(placed.values()) and huge is not None:
                                return placed, huge
                            await asyncio.sleep(0.05)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)

    placed, huge = asyncio.run(main())
    assert sorted(placed.values()) == ["n1", "n1", "n2", "n2", "n3", "n3"]  # 3 x 600m fit no node
    assert (huge.status, huge.reason) == ("False", "Unschedulable")
    assert huge.message == "0/3 nodes are available: 3 Insufficient cpu."
