"""The API server against raykube's real store, over real gRPC on loopback.

Each test brings up a fresh store + API server in its own event loop (tests/harness.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cluster.api import manifest, resources
from cluster.client.api import ApiClient
from cluster.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unauthorized,
)
from raykube.v1 import api_pb2, meta_pb2, namespace_pb2, node_pb2, pod_pb2
from tests.harness import ControlPlane, control_plane

PODS, NODES = resources.PODS, resources.NODES


def pod(name: str = "web", **labels: str) -> pod_pb2.Pod:
    [obj] = manifest.load(f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
                          "spec: {containers: [{name: c, image: 'busybox:1.35'}]}")  # fmt: skip
    assert isinstance(obj, pod_pb2.Pod)
    obj.metadata.labels.update(labels)
    return obj


def run(
    tmp_path: Path, scenario: Callable[[ControlPlane, ApiClient], Awaitable[None]], **options: Any
) -> None:
    async def main() -> None:
        async with control_plane(tmp_path, **options) as plane, plane.client() as admin:
            await scenario(plane, admin)

    asyncio.run(main())


def test_create_defaults_and_stores(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(pod())
        assert created.metadata.namespace == "default"
        assert created.metadata.uid and created.metadata.resource_version.isdigit()
        assert created.metadata.generation == 1 and created.metadata.HasField("creation_timestamp")
        assert created.spec.restart_policy == "Always"
        assert created.spec.termination_grace_period_seconds == 30
        assert created.spec.scheduler_name == "default-scheduler"
        assert created.spec.containers[0].image_pull_policy == "IfNotPresent"
        assert (created.status.phase, created.status.qos_class) == ("Pending", "BestEffort")
        fetched = await admin.get(PODS, "default", "web")
        assert fetched == created
        with pytest.raises(AlreadyExists, match='pods "web" already exists'):
            await admin.create(pod())

    run(tmp_path, scenario)


def test_invalid_objects_are_rejected_with_every_field_and_nothing_is_stored(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        bad = pod("Bad_Name")
        bad.spec.containers[0].image = ""
        bad.spec.containers[0].resources.requests["cpu"] = "lots"
        bad.spec.containers[0].resources.limits["memory"] = "1Gi"
        bad.spec.containers[0].resources.requests["memory"] = "2Gi"
        bad.spec.restart_policy = "Sometimes"
        with pytest.raises(Invalid) as caught:
            await admin.create(bad)
        fields = [c.field for c in caught.value.causes]
        assert fields == [
            "metadata.name",
            "spec.containers[0].image",
            "spec.containers[0].resources.requests[cpu]",
            "spec.restartPolicy",
        ]
        assert 'Unsupported value: "Sometimes"' in caught.value.message
        items, _ = await admin.list(PODS)
        assert items == []
        limited = pod("limited")
        limited.spec.containers[0].resources.limits["memory"] = "1Gi"
        limited.spec.containers[0].resources.requests["memory"] = "2Gi"
        with pytest.raises(Invalid, match="must be less than or equal to memory limit of 1Gi"):
            await admin.create(limited)

    run(tmp_path, scenario)


def test_dry_run_validates_without_storing(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod(), dry_run=True)
        with pytest.raises(NotFound):
            await admin.get(PODS, "default", "web")

    run(tmp_path, scenario)


def test_update_needs_the_current_resource_version(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(pod())
        changed = pod_pb2.Pod()
        changed.CopyFrom(created)
        changed.metadata.labels["tier"] = "front"
        updated = await admin.update(changed)
        assert updated.metadata.labels["tier"] == "front"
        assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
        assert updated.metadata.generation == 1  # metadata changes do not bump the generation
        stale = pod_pb2.Pod()
        stale.CopyFrom(created)
        stale.metadata.labels["tier"] = "back"
        with pytest.raises(Conflict, match="the object has been modified"):
            await admin.update(stale)
        same = await admin.update(updated)
        assert same.metadata.resource_version == updated.metadata.resource_version  # no-op: nothing written
        immutable = pod_pb2.Pod()
        immutable.CopyFrom(updated)
        immutable.spec.restart_policy = "Never"
        with pytest.raises(Invalid, match="pod updates may not change fields"):
            await admin.update(immutable)

    run(tmp_path, scenario)


def test_status_updates_change_only_status(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod())
        created = await admin.bind("default", "web", "node-1")  # a node writes the status of its own pods
        report = pod_pb2.Pod()
        report.CopyFrom(created)
        report.status.phase = "Running"
        report.status.pod_ip = "10.88.0.9"
        report.metadata.labels["sneaky"] = "yes"  # ignored by a status update
        async with plane.client("node-1-token") as node:
            written = await node.update_status(report)
        assert (written.status.phase, written.status.pod_ip) == ("Running", "10.88.0.9")
        assert "sneaky" not in written.metadata.labels
        report.status.phase = "Dancing"
        report.metadata.resource_version = ""  # unconditional: applies to whatever is current
        with pytest.raises(Invalid, match=r"status\.phase"):
            await admin.update_status(report)

    run(tmp_path, scenario)


def test_bind_many_answers_each_bind_as_bind_would(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        first, second = await admin.create(pod("a")), await admin.create(pod("b"))

        def request(name: str, uid: str) -> api_pb2.BindRequest:
            return api_pb2.BindRequest(namespace="default", name=name, node_name="node-1",
                                       preconditions=api_pb2.Preconditions(uid=uid))  # fmt: skip

        binds = [request("a", first.metadata.uid), request("b", "someone-else"), request("gone", "")]
        async with plane.client("scheduler-token") as scheduler:
            bound, stale, missing = await scheduler.bind_many(binds)
            now = await admin.get(resources.PODS, "default", "a")
            assert now.spec.node_name == "node-1" and bound == now.metadata.resource_version
            assert isinstance(stale, Conflict) and isinstance(missing, NotFound)
            with pytest.raises(BadRequest, match="at most 1000 binds per request, got 1001"):
                await scheduler.bind_many([request("b", second.metadata.uid)] * 1001)
        async with plane.client("node-1-token") as node:  # a kubelet may not bind: per bind
            [refused] = await node.bind_many([request("b", second.metadata.uid)])
            assert isinstance(refused, Forbidden)
        assert not (await admin.get(resources.PODS, "default", "b")).spec.node_name

    run(tmp_path, scenario)


def test_bind_assigns_once_with_preconditions(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(pod())
        async with plane.client("scheduler-token") as scheduler:
            with pytest.raises(Conflict):
                await scheduler.bind("default", "web", "node-1", uid="someone-else")
            bound = await scheduler.bind(
                "default",
                "web",
                "node-1",
                uid=created.metadata.uid,
                resource_version=created.metadata.resource_version,
            )
            assert bound.spec.node_name == "node-1"
            [condition] = bound.status.conditions
            assert (condition.type, condition.status) == ("PodScheduled", "True")
            with pytest.raises(Conflict, match='already assigned to node "node-1"'):
                await scheduler.bind("default", "web", "node-2")
            with pytest.raises(Forbidden):  # it binds and evicts; it does not rewrite pods
                await scheduler.update(bound)

    run(tmp_path, scenario)


def test_deleting_a_bound_pod_is_graceful(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod("loose"))
        _, gone = await admin.delete(PODS, "default", "loose")
        assert gone  # never scheduled: nothing to stop, deleted at once
        created = await admin.create(pod())
        await admin.bind("default", "web", "node-1")
        terminating, gone = await admin.delete(PODS, "default", "web")
        assert not gone
        assert terminating.metadata.HasField("deletion_timestamp")
        assert terminating.metadata.deletion_grace_period_seconds == 30
        again, gone = await admin.delete(PODS, "default", "web", grace_period_seconds=60)
        assert (
            not gone and again.metadata.deletion_grace_period_seconds == 30
        )  # a longer grace changes nothing
        async with plane.client("node-1-token") as node:
            with pytest.raises(Conflict, match="Precondition failed"):
                await node.delete(PODS, "default", "web", grace_period_seconds=0, uid="not-the-pod")
            _, gone = await node.delete(
                PODS, "default", "web", grace_period_seconds=0, uid=created.metadata.uid
            )
        assert gone
        with pytest.raises(NotFound):
            await admin.get(PODS, "default", "web")

    run(tmp_path, scenario)


def test_list_with_selectors_and_namespaces(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod("a", app="web"))
        await admin.create(pod("b", app="db"))
        other = pod("c", app="web")
        other.metadata.namespace = "other"
        await admin.create(namespace_pb2.Namespace(metadata=meta_pb2.ObjectMeta(name="other")))
        await admin.create(other)
        await admin.bind("default", "b", "node-1")

        async def names(namespace: str = "", labels: str = "", fields: str = "") -> list[str]:
            items, version = await admin.list(PODS, namespace, label_selector=labels, field_selector=fields)
            assert version.isdigit()
            return sorted(o.metadata.name for o in items)

        assert await names() == ["a", "b", "c"]
        assert await names("default") == ["a", "b"]
        assert await names(labels="app=web") == ["a", "c"]
        assert await names(fields="spec.nodeName=node-1") == ["b"]
        assert await names(fields="spec.nodeName=") == ["a", "c"]
        with pytest.raises(BadRequest, match="field label not supported"):
            await names(fields="spec.image=x")
        with pytest.raises(BadRequest):
            await names(labels="app in web")

    run(tmp_path, scenario)


def test_watch_from_a_version_with_selector_transitions(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        _, version = await admin.list(PODS)
        events: list[tuple[str, str, str]] = []
        seen = asyncio.Event()

        async def watch() -> None:
            async for kind, obj in admin.watch(
                PODS, resource_version=version, field_selector="spec.nodeName=node-1"
            ):
                events.append((kind, obj.metadata.name, obj.spec.node_name))
                if kind == "DELETED":
                    seen.set()

        task = asyncio.create_task(watch())
        created = await admin.create(pod())  # not on node-1: invisible
        await admin.bind("default", "web", "node-1")  # starts matching: ADDED
        await admin.delete(PODS, "default", "web")  # MODIFIED
        await admin.delete(
            PODS, "default", "web", grace_period_seconds=0, uid=created.metadata.uid
        )  # DELETED
        await asyncio.wait_for(seen.wait(), 10)
        task.cancel()
        assert events == [
            ("ADDED", "web", "node-1"),
            ("MODIFIED", "web", "node-1"),
            ("DELETED", "web", "node-1"),
        ]

    run(tmp_path, scenario)


def test_watch_without_version_starts_with_the_current_state(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod("a"))
        stream = admin.watch(PODS)
        kind, obj = await asyncio.wait_for(anext(stream), 10)
        assert (kind, obj.metadata.name) == ("ADDED", "a")
        await admin.create(pod("b"))
        kind, obj = await asyncio.wait_for(anext(stream), 10)
        assert (kind, obj.metadata.name) == ("ADDED", "b")
        await stream.aclose()

    run(tmp_path, scenario)


def test_a_burst_of_changes_comes_in_as_few_watch_messages_as_fit(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        _, start = await admin.list(PODS)
        last = [await admin.create(pod(f"p{i}")) for i in range(40)][-1]
        cache = plane.api.registry.caches["pods"]
        while cache.revision < int(last.metadata.resource_version):  # all 40 ready at once
            await asyncio.sleep(0.01)
        stub = await admin._api()
        call = stub.Watch(
            api_pb2.WatchRequest(resource="pods", resource_version=start), metadata=admin._metadata()
        )
        names: list[list[str]] = []
        async for message in call:
            names.append([event.object.pod.metadata.name for event in message.events])
            if sum(map(len, names)) == 40:
                break
        call.cancel()
        assert [len(batch) for batch in names] == [32, 8]  # MAX_WATCH_EVENTS per message, in order
        assert [name for batch in names for name in batch] == [f"p{i}" for i in range(40)]

    run(tmp_path, scenario)


def test_watch_from_a_version_older_than_the_window_is_gone(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        for i in range(6):
            await admin.create(pod(f"p{i}"))
        await asyncio.sleep(0.2)
        with pytest.raises(Gone, match="too old resource version"):
            async for _ in admin.watch(PODS, resource_version="1"):
                pass

    run(tmp_path, scenario, watch_cache_size=3)  # a tiny window, so a few writes push version 1 out of it


def test_nodes_are_cluster_scoped_and_nodes_may_write_only_themselves(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        node = node_pb2.Node()
        node.metadata.name = "node-1"
        node.metadata.namespace = "ignored"
        node.status.capacity.update({"cpu": "2", "memory": "4Gi"})
        async with plane.client("node-1-token") as kubelet:
            created = await kubelet.create(node)
            assert created.metadata.namespace == ""
            assert dict(created.status.allocatable) == {
                "cpu": "2",
                "memory": "4Gi",
            }  # defaulted from capacity
            other = node_pb2.Node()
            other.metadata.name = "node-2"
            with pytest.raises(Forbidden, match='cannot create resource "nodes"'):
                await kubelet.create(other)
        assert [n.metadata.name for n in (await admin.list(NODES))[0]] == ["node-1"]

    run(tmp_path, scenario)


def test_authentication_is_required(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        async with ApiClient(plane.address, "wrong") as stranger:
            with pytest.raises(Unauthorized):
                await stranger.list(PODS)
        async with plane.client("nobody-token") as nobody:
            assert (await nobody.whoami()).username == "nobody"
            with pytest.raises(Forbidden, match='User "nobody" cannot list resource "pods"'):
                await nobody.list(PODS)

    run(tmp_path, scenario)


def test_logs_of_an_unscheduled_pod_explain_why_not(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        await admin.create(pod())
        with pytest.raises(BadRequest, match="does not have a host assigned"):
            async for _ in admin.logs("default", "web"):
                pass
        with pytest.raises(BadRequest, match="container nope is not valid"):
            async for _ in admin.logs("default", "web", container="nope"):
                pass

    run(tmp_path, scenario)


def test_writes_stay_correct_when_the_watch_cache_lags(tmp_path: Path) -> None:
    """Writes try the watch cache's copy first; a stale copy must cost a retry, never a wrong result."""

    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(pod())
        labelled = pod_pb2.Pod()
        labelled.CopyFrom(created)
        labelled.metadata.labels["a"] = "1"
        labelled = await admin.update(labelled)
        cache = plane.api.registry.caches["pods"]
        key = PODS.key("default", "web")

        def lag() -> None:
            cache.objects[key] = created  # the cache "has not seen" the label update yet

        lag()
        report = pod_pb2.Pod()
        report.CopyFrom(labelled)
        report.metadata.resource_version = ""
        report.status.phase = "Running"
        written = await admin.update_status(report)  # unconditional: applies on top of the store's version
        assert written.metadata.labels["a"] == "1" and written.status.phase == "Running"

        lag()
        current = await admin.get(PODS, "default", "web")  # reads go to the store
        relabelled = pod_pb2.Pod()
        relabelled.CopyFrom(current)
        relabelled.metadata.labels["b"] = "2"
        assert (await admin.update(relabelled)).metadata.labels == {
            "a": "1",
            "b": "2",
        }  # precondition met in the store

        lag()
        stale = pod_pb2.Pod()
        stale.CopyFrom(created)
        stale.metadata.labels["c"] = "3"
        with pytest.raises(Conflict):  # the precondition matches the stale cached copy, not the store
            await admin.update(stale)

        lag()
        await admin.bind("default", "web", "node-1")
        lag()
        with pytest.raises(Conflict, match="already assigned"):
            await admin.bind("default", "web", "node-2")
        assert (await admin.get(PODS, "default", "web")).spec.node_name == "node-1"

    run(tmp_path, scenario)
