"""The scheduler against a real API server and store (tests/harness.py), over gRPC on loopback."""

import asyncio
from pathlib import Path

from cluster.api import resources
from cluster.scheduler import Scheduler, SchedulerConfig
from raykube.v1 import pod_pb2, scheduling_pb2
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
    assert huge.message == (
        "0/3 nodes are available: 3 Insufficient cpu."
        " preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod."
    )


def test_a_higher_priority_pod_preempts_through_the_real_api_server(tmp_path: Path) -> None:
    """As system:kube-scheduler (RBAC: it may delete pods), with Priority admission filling in
    spec.priority from the PriorityClass the pod names."""

    async def main() -> tuple[str, set[str], str]:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            node = fresh(builders.node("n1", cpu="2", memory="4Gi"))
            created = await admin.create(node)
            created.status.CopyFrom(node.status)
            await admin.update_status(created)
            high = scheduling_pb2.PriorityClass(value=1000)
            high.metadata.name = "high"
            await admin.create(high)
            for i in range(3):
                low = fresh(builders.pod(f"low-{i}", cpu="600m", node_name="n1"))
                low.spec.termination_grace_period_seconds = 0  # no kubelet here to wait for
                await admin.create(low)
            urgent = fresh(builders.pod("urgent", cpu="1"))
            urgent.spec.priority_class_name = "high"
            await admin.create(urgent)
            async with plane.client("scheduler-token") as client:
                task = asyncio.create_task(Scheduler(client, SchedulerConfig(initial_backoff=0.05)).run())
                try:
                    async with asyncio.timeout(20):
                        while not (
                            bound := await admin.get(resources.PODS, "default", "urgent")
                        ).spec.node_name:
                            await asyncio.sleep(0.05)
                finally:
                    task.cancel()
                    await asyncio.gather(task, return_exceptions=True)
            left, _ = await admin.list(resources.PODS, "default")
            return bound.spec.node_name, {p.metadata.name for p in left}, bound.status.nominated_node_name

    node, left, nominated = asyncio.run(main())
    # 3 x 600m on 2 cpu leaves 200m; 1 cpu needs two of them gone, and no more
    assert node == nominated == "n1" and len(left) == 2 and "urgent" in left
