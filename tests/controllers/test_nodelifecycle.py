"""The node lifecycle controller on a real API server, driven step by step with fake clocks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources, wellknown
from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.controllers.informers import SharedInformers
from cluster.controllers.nodelifecycle.controller import (
    NodeLifecycleConfig,
    NodeLifecycleController,
    desired_taints,
    toleration_seconds,
)
from cluster.errors import NotFound
from raykube.v1 import coordination_pb2, node_pb2, pod_pb2
from tests.controllers.builders import pod as pod_on
from tests.harness import background, control_plane


def node(name: str, ready: str = "True") -> node_pb2.Node:
    obj = node_pb2.Node()
    obj.metadata.name = name
    obj.status.conditions.add(type="Ready", status=ready, last_heartbeat_time=Timestamp(seconds=1))
    return obj


def test_taints_follow_the_ready_condition() -> None:
    assert desired_taints(node("a"), no_execute=True) == set()
    unreachable = wellknown.TAINT_NODE_UNREACHABLE
    assert desired_taints(node("a", "Unknown"), no_execute=True) == {
        (unreachable, "NoSchedule"),
        (unreachable, "NoExecute"),
    }
    assert desired_taints(node("a", "False"), no_execute=False) == {
        (wellknown.TAINT_NODE_NOT_READY, "NoSchedule")
    }


@pytest.mark.parametrize(
    ("tolerations", "expected"),
    [
        ([], 0.0),
        ([pod_pb2.Toleration(key=wellknown.TAINT_NODE_UNREACHABLE, operator="Exists", effect="NoExecute", toleration_seconds=20)], 20.0),
        ([pod_pb2.Toleration(key=wellknown.TAINT_NODE_UNREACHABLE, operator="Exists", effect="NoExecute")], None),
        ([pod_pb2.Toleration(operator="Exists")], None),  # tolerates everything, for ever
        ([pod_pb2.Toleration(key="other", operator="Exists", effect="NoExecute")], 0.0),
        ([pod_pb2.Toleration(key=wellknown.TAINT_NODE_UNREACHABLE, operator="Exists", effect="NoSchedule")], 0.0),
    ],
)  # fmt: skip
def test_how_long_a_pod_tolerates_a_no_execute_taint(
    tolerations: list[pod_pb2.Toleration], expected: float | None
) -> None:
    pod = pod_pb2.Pod()
    pod.spec.tolerations.extend(tolerations)
    taint = node_pb2.Taint(key=wellknown.TAINT_NODE_UNREACHABLE, effect="NoExecute")
    assert toleration_seconds(pod, taint) == expected


async def seen(check: Callable[[], bool], what: str) -> None:
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the informers never showed {what}")


def test_a_silent_node_goes_unknown_is_tainted_and_its_pods_are_evicted_on_time(tmp_path: Path) -> None:
    monotonic, wall = [1000.0], [1_800_000_000.0]

    async def scenario() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            client = plane.client("controller-manager-token")
            informers = SharedInformers(client)
            recorder = EventRecorder(client, "node-controller")
            controller = NodeLifecycleController(
                client, informers, recorder, NodeLifecycleConfig(grace_period=20),
                clock=lambda: monotonic[0], wall_clock=lambda: wall[0],
            )  # fmt: skip
            nodes, pods = informers[resources.NODES], informers[resources.PODS]
            for name in ("alive", "silent"):
                await admin.create(node(name))
            quick = pod_on("quick", node="silent")
            quick.spec.tolerations.add(key=wellknown.TAINT_NODE_UNREACHABLE, operator="Exists", effect="NoExecute",
                                       toleration_seconds=0)  # fmt: skip
            patient = pod_on("patient", node="silent")  # DefaultTolerationSeconds gives it 20 s
            loyal = pod_on("loyal", node="silent")
            loyal.spec.tolerations.add(operator="Exists")
            for pod in (quick, patient, loyal):
                pod.spec.containers.add(name="c", image="busybox:1.35")
                created = await admin.create(pod)
                created.status.CopyFrom(pod.status)
                await admin.update_status(created)
            async with background(informers.run(), recorder.run()):
                await informers.synced()
                await seen(
                    lambda: len(pods.items()) == 3 and all(p.status.phase == "Running" for p in pods.items()),
                    "pods",
                )
                await controller.monitor()  # both seen for the first time: fine
                leases = informers[resources.LEASES]

                async def heartbeat() -> None:
                    await renew(admin, "alive", wall[0])
                    await seen(lambda: (lease := leases.get(wellknown.NAMESPACE_NODE_LEASE, "alive")) is not None
                               and lease.spec.renew_time.seconds == int(wall[0]), "the renewed lease")  # fmt: skip

                monotonic[0] += 21
                await heartbeat()
                await controller.monitor()
                await seen(
                    lambda: (
                        _ready(nodes.get("", "silent")) == "Unknown"
                        and bool(nodes.get("", "silent").spec.taints)
                    ),
                    "silent Unknown",
                )
                assert _ready(nodes.get("", "alive")) == "True"
                assert {(t.key, t.effect) for t in nodes.get("", "silent").spec.taints} == {
                    (wellknown.TAINT_NODE_UNREACHABLE, "NoSchedule"),
                    (wellknown.TAINT_NODE_UNREACHABLE, "NoExecute"),
                }
                assert not conditions.is_true(pods.get("default", "patient").status.conditions, "Ready")

                await controller.monitor()  # evicts what does not tolerate the taint at all
                await seen(
                    lambda: pods.get("default", "quick").metadata.HasField("deletion_timestamp"),
                    "quick evicted",
                )
                assert not pods.get("default", "patient").metadata.HasField("deletion_timestamp")
                wall[0] += 21
                monotonic[0] += 1
                await heartbeat()
                await controller.monitor()
                await seen(
                    lambda: pods.get("default", "patient").metadata.HasField("deletion_timestamp"),
                    "patient evicted",
                )
                assert not pods.get("default", "loyal").metadata.HasField("deletion_timestamp")

                monotonic[0] += 21  # now the other node is silent too: full disruption
                await controller.monitor()
                await seen(lambda: _ready(nodes.get("", "alive")) == "Unknown", "alive Unknown")
                await controller.monitor()
                await seen(lambda: all(t.effect != "NoExecute" for n in nodes.items() for t in n.spec.taints),
                           "NoExecute taints lifted in a full disruption")  # fmt: skip

                recovered = await admin.get(resources.NODES, "", "silent")
                assert isinstance(recovered, node_pb2.Node)
                now = Timestamp(seconds=int(wall[0]))
                ready = conditions.set_condition(recovered.status.conditions, "Ready", "True", now)
                ready.last_heartbeat_time.CopyFrom(now)
                await admin.update_status(recovered)  # the kubelet reports again
                await seen(lambda: _ready(nodes.get("", "silent")) == "True", "silent Ready")
                await controller.monitor()
                await seen(lambda: not nodes.get("", "silent").spec.taints, "taints gone")
                await seen(lambda: True, "")
            events, _ = await admin.list(resources.EVENTS, "default", field_selector="reason=NodeNotReady")
            assert {e.involved_object.name for e in events} == {"silent", "alive"}

    asyncio.run(scenario())


def _ready(obj: node_pb2.Node | None) -> str:
    ready = conditions.find(obj.status.conditions, "Ready") if obj is not None else None
    return ready.status if ready is not None else ""


async def renew(admin: ApiClient, name: str, now: float) -> None:
    lease = coordination_pb2.Lease()
    lease.metadata.name, lease.metadata.namespace = name, wellknown.NAMESPACE_NODE_LEASE
    lease.spec.holder_identity = name
    lease.spec.renew_time.FromNanoseconds(int(now * 1e9))
    try:
        current = await admin.get(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, name)
    except NotFound:
        await admin.create(lease)
        return
    current.spec.renew_time.CopyFrom(lease.spec.renew_time)
    await admin.update(current)
