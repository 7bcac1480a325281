"""The controller manager on a real store and API server, with the real scheduler and hollow nodes
(pods "run" at once, as kubemark's do): ReplicaSets, Deployments, garbage collection, namespaces.

Everything runs in one event loop; the only thing missing is containers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest

from agents.hollownode.hollow import HollowNodes, NodeShape
from cluster.api import resources, wellknown
from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.controllers.manager import ControllerManager
from cluster.controllers.owners import controller_of
from cluster.errors import NotFound
from cluster.scheduler import Scheduler
from cluster.scheduler.scheduler import SchedulerConfig
from raykube.v1 import apps_pb2, meta_pb2, namespace_pb2, pod_pb2
from tests.controllers.builders import deployment, replica_set
from tests.harness import background, control_plane

T = TypeVar("T")
NODES = ["n1", "n2"]


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 15.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def workload_cluster(tmp_path: Path) -> AsyncIterator[ApiClient]:
    async with control_plane(tmp_path) as plane, plane.client() as admin:
        client = plane.client("scheduler-token")
        config = SchedulerConfig(initial_backoff=0.05, max_backoff=0.2)
        scheduler = Scheduler(client, config, events=EventRecorder(client, "default-scheduler"))
        nodes = HollowNodes(plane.client(), NODES, NodeShape({"cpu": "8", "memory": "16Gi", "pods": "110"}))
        manager = ControllerManager(plane.client("controller-manager-token"))
        async with background(scheduler.run(), nodes.run(), manager.run()):
            yield admin


def run(tmp_path: Path, scenario: Callable[[ApiClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with workload_cluster(tmp_path) as admin:
            await scenario(admin)

    asyncio.run(main())


async def pods_of(admin: ApiClient, owner: Any) -> list[pod_pb2.Pod]:
    items, _ = await admin.list(resources.PODS, "default")
    return [p for p in items if (ref := controller_of(p)) is not None and ref.uid == owner.metadata.uid
            and not p.metadata.HasField("deletion_timestamp")]  # fmt: skip


async def get(
    admin: ApiClient, resource: resources.Resource[Any], name: str, namespace: str = "default"
) -> Any:
    try:
        return await admin.get(resource, namespace, name)
    except NotFound:
        return None


def test_a_replica_set_keeps_its_count_adopts_orphans_and_takes_its_pods_along(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        rs = await admin.create(replica_set(3))
        running = await until(lambda: _running(admin, rs, 3), "3 running pods")
        status = (await until(lambda: _status_is(admin, rs, 3), "status 3/3")).status
        assert (status.replicas, status.ready_replicas, status.available_replicas) == (3, 3, 3)
        assert all(p.metadata.name.startswith("web-") for p in running)

        await admin.delete(resources.PODS, "default", running[0].metadata.name)
        replaced = await until(
            lambda: _running(admin, rs, 3, without=running[0].metadata.name), "a replacement"
        )
        assert running[0].metadata.name not in {p.metadata.name for p in replaced}

        rs = await admin.modify(
            resources.REPLICASETS, "default", "web", lambda obj: setattr(obj.spec, "replicas", 1)
        )
        await until(lambda: _running(admin, rs, 1), "scaled down to 1")

        orphan = pod_pb2.Pod()
        orphan.CopyFrom(replaced[0])
        orphan.metadata.Clear()
        orphan.metadata.name, orphan.metadata.namespace = "orphan", "default"
        orphan.metadata.labels["app"] = "web"
        orphan.spec.node_name = ""
        orphan.ClearField("status")
        await admin.create(orphan)  # matches the selector: adopted, and one too many: one goes

        async def adopted() -> bool:
            found = await get(admin, resources.PODS, "orphan")
            return (found is None or controlled(found, rs)) and bool(await _running(admin, rs, 1))

        await until(adopted, "the orphan adopted (or, as the newest, deleted) and one pod left")

        await admin.delete(resources.REPLICASETS, "default", "web")  # Background: the collector follows
        await until(lambda: _none_left(admin), "no pod left")

    run(tmp_path, scenario)


def new_command(d: apps_pb2.Deployment) -> None:
    d.spec.template.spec.containers[0].command[:] = ["sleep", "7200"]


def controlled(obj: Any, owner: Any) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.uid == owner.metadata.uid


async def _running(admin: ApiClient, owner: Any, count: int, without: str = "") -> list[pod_pb2.Pod] | None:
    pods = await pods_of(admin, owner)
    ok = len(pods) == count and all(p.status.phase == "Running" for p in pods)
    return pods if ok and without not in {p.metadata.name for p in pods} else None


async def _status_is(admin: ApiClient, rs: apps_pb2.ReplicaSet, count: int) -> apps_pb2.ReplicaSet | None:
    current = await get(admin, resources.REPLICASETS, rs.metadata.name)
    return current if current.status.available_replicas == count else None


async def _none_left(admin: ApiClient) -> bool:
    items, _ = await admin.list(resources.PODS, "default")
    return not items


async def _deployment(admin: ApiClient, name: str = "web") -> apps_pb2.Deployment:
    found: apps_pb2.Deployment = await admin.get(resources.DEPLOYMENTS, "default", name)
    return found


async def _rolled_out(admin: ApiClient, name: str = "web") -> apps_pb2.Deployment | None:
    d = await _deployment(admin, name)
    progressing = {c.type: c.reason for c in d.status.conditions}.get("Progressing")
    done = d.status.observed_generation == d.metadata.generation and progressing == "NewReplicaSetAvailable"
    return d if done else None


async def _sets(admin: ApiClient) -> dict[str, apps_pb2.ReplicaSet]:
    items, _ = await admin.list(resources.REPLICASETS, "default")
    return {rs.metadata.annotations[wellknown.REVISION]: rs for rs in items}  # type: ignore[union-attr]


def test_a_deployment_rolls_out_rolls_back_and_goes_with_everything_it_made(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        await admin.create(deployment(3))
        d = await until(lambda: _rolled_out(admin), "the first rollout")
        first = (await _sets(admin))["1"]
        template_hash = first.metadata.labels[wellknown.POD_TEMPLATE_HASH]
        assert first.metadata.name == f"web-{template_hash}" and controlled(first, d)
        assert d.metadata.annotations[wellknown.REVISION] == "1" and d.status.available_replicas == 3

        await admin.modify(resources.DEPLOYMENTS, "default", "web", new_command)
        d = await until(lambda: _rolled_out(admin), "the second rollout")
        sets = await _sets(admin)
        assert set(sets) == {"1", "2"} and sets["1"].spec.replicas == 0 and sets["2"].spec.replicas == 3
        assert d.metadata.annotations[wellknown.REVISION] == "2"
        assert len(await pods_of(admin, sets["2"])) == 3 and not await pods_of(admin, sets["1"])

        def undo(obj: apps_pb2.Deployment) -> None:  # kubectl rollout undo: the old template again
            obj.spec.template.CopyFrom(first.spec.template)
            del obj.spec.template.metadata.labels[wellknown.POD_TEMPLATE_HASH]

        await admin.modify(resources.DEPLOYMENTS, "default", "web", undo)
        await until(lambda: _rolled_out(admin), "the rollback")
        sets = await _sets(admin)
        assert set(sets) == {"2", "3"} and sets["3"].metadata.uid == first.metadata.uid  # revision 1 became 3
        assert sets["3"].metadata.annotations[wellknown.REVISION_HISTORY] == "1"

        await admin.delete(resources.DEPLOYMENTS, "default", "web", propagation_policy="Foreground")
        await until(lambda: _all_gone(admin), "deployment, replica sets and pods gone")

    run(tmp_path, scenario)


async def _all_gone(admin: ApiClient) -> bool:
    for resource in (resources.DEPLOYMENTS, resources.REPLICASETS, resources.PODS):
        if (await admin.list(resource, "default"))[0]:
            return False
    return True


def test_recreate_stops_every_old_pod_before_starting_new_ones(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        await admin.create(deployment(2, extra="  strategy: {type: Recreate}\n"))
        await until(lambda: _rolled_out(admin), "the first rollout")
        seen_both: list[bool] = []

        async def watch_pods() -> None:
            async for _event in admin.watch(resources.PODS, "default"):
                items, _ = await admin.list(resources.PODS, "default")
                hashes = {p.metadata.labels[wellknown.POD_TEMPLATE_HASH] for p in items}
                seen_both.append(len(hashes) > 1)

        watcher = asyncio.create_task(watch_pods())
        await admin.modify(resources.DEPLOYMENTS, "default", "web", new_command)
        await until(lambda: _rolled_out(admin), "the recreate rollout")
        watcher.cancel()
        assert seen_both and not any(seen_both), "old and new pods were never there at once"

    run(tmp_path, scenario)


def test_orphaning_keeps_the_dependents(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        await admin.create(deployment(2))
        await until(lambda: _rolled_out(admin), "the rollout")
        await admin.delete(resources.DEPLOYMENTS, "default", "web", propagation_policy="Orphan")
        await until(lambda: _missing(admin, resources.DEPLOYMENTS, "web"), "the deployment gone")
        [rs] = (await _sets(admin)).values()
        assert not rs.metadata.owner_references
        assert len((await admin.list(resources.PODS, "default"))[0]) == 2

    run(tmp_path, scenario)


async def _missing(
    admin: ApiClient, resource: resources.Resource[Any], name: str, namespace: str = "default"
) -> bool:
    return await get(admin, resource, name, namespace) is None


def test_a_paused_deployment_does_not_roll_out_and_a_stuck_one_says_so(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        await admin.create(deployment(2))
        await until(lambda: _rolled_out(admin), "the rollout")
        await admin.modify(
            resources.DEPLOYMENTS, "default", "web", lambda obj: setattr(obj.spec, "paused", True)
        )
        await admin.modify(resources.DEPLOYMENTS, "default", "web", new_command)
        await until(
            lambda: _condition(admin, "Progressing", "DeploymentPaused"), "Progressing: DeploymentPaused"
        )
        assert set(await _sets(admin)) == {"1"}  # no new ReplicaSet while paused

        stuck = deployment(1, name="stuck", extra="  progressDeadlineSeconds: 2\n")
        stuck.spec.template.spec.node_selector["no-such"] = "node"
        stuck.metadata.Clear()
        stuck.metadata.name, stuck.metadata.namespace = "stuck", "default"
        await admin.create(stuck)
        await until(lambda: _condition(admin, "Progressing", "ProgressDeadlineExceeded", "stuck"),
                    "ProgressDeadlineExceeded", timeout=20)  # fmt: skip

    run(tmp_path, scenario)


async def _condition(admin: ApiClient, kind: str, reason: str, name: str = "web") -> bool:
    d = await _deployment(admin, name)
    return any(c.type == kind and c.reason == reason for c in d.status.conditions)


def test_deleting_a_namespace_removes_everything_in_it(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        await admin.create(namespace_pb2.Namespace(metadata=meta_pb2.ObjectMeta(name="team")))
        d = deployment(2)
        d.metadata.namespace = "team"
        await admin.create(d)
        await until(lambda: _pods_in(admin, "team", 2), "2 pods in team")
        await admin.delete(resources.NAMESPACES, "", "team")
        await until(lambda: _missing(admin, resources.NAMESPACES, "team", ""), "the namespace gone")
        for resource in (resources.DEPLOYMENTS, resources.REPLICASETS, resources.PODS):
            assert (await admin.list(resource, "team"))[0] == []

    run(tmp_path, scenario)


async def _pods_in(admin: ApiClient, namespace: str, count: int) -> bool:
    items, _ = await admin.list(resources.PODS, namespace)
    return len(items) == count and all(p.status.phase == "Running" for p in items)  # type: ignore[union-attr]


@pytest.mark.parametrize("events", [("SuccessfulCreate", "replicaset-controller"), ("ScalingReplicaSet", "deployment-controller"),
                                    ("Scheduled", "default-scheduler")])  # fmt: skip
def test_components_record_events(tmp_path: Path, events: tuple[str, str]) -> None:
    reason, component = events

    async def scenario(admin: ApiClient) -> None:
        await admin.create(deployment(2))
        await until(lambda: _rolled_out(admin), "the rollout")

        async def recorded() -> bool:
            items, _ = await admin.list(resources.EVENTS, "default", field_selector=f"reason={reason}")
            return any(e.source.component == component and e.count >= 1 for e in items)  # type: ignore[union-attr]

        await until(recorded, f"a {reason} event from {component}")

    run(tmp_path, scenario)
