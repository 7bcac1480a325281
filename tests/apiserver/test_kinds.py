"""The kinds beyond Pod and Node on a real store and API server: groups, defaults, validation,
status subresource and generation, namespaces' lifecycle, finalizers, Events that expire, Leases."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from cluster.api import manifest, resources, wellknown
from cluster.client.api import ApiClient
from cluster.errors import Forbidden, Invalid, NotFound
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.v1 import apps_pb2, coordination_pb2, event_pb2, meta_pb2, namespace_pb2
from tests.harness import ControlPlane, control_plane

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: 'busybox:1.35'}]}
"""


def deployment(text: str = DEPLOYMENT) -> apps_pb2.Deployment:
    [obj] = manifest.load(text)
    assert isinstance(obj, apps_pb2.Deployment)
    return obj


def namespace(name: str) -> namespace_pb2.Namespace:
    return namespace_pb2.Namespace(metadata=meta_pb2.ObjectMeta(name=name))


def run(tmp_path: Path, scenario: Callable[[ControlPlane, ApiClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            await scenario(plane, admin)

    asyncio.run(main())


def test_a_deployment_is_defaulted_in_its_group(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(deployment())
        assert (created.api_version, created.kind) == ("apps/v1", "Deployment")
        spec = created.spec
        assert spec.replicas == 1 and spec.HasField("replicas")
        assert (spec.strategy.type, spec.strategy.rolling_update.max_surge) == ("RollingUpdate", "25%")
        assert spec.strategy.rolling_update.max_unavailable == "25%"
        assert (spec.revision_history_limit, spec.progress_deadline_seconds) == (10, 600)
        assert spec.template.spec.restart_policy == "Always"
        assert created.metadata.generation == 1

    run(tmp_path, scenario)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("app: web}}\n  template:\n    metadata: {labels: {app: web}}", "app: web}}\n  template:\n    metadata: {labels: {app: db}}"),
         'spec.template.metadata.labels: Invalid value: {"app": "db"}: `selector` does not match template `labels`'),
        (("spec:\n  selector", "spec:\n  replicas: -1\n  selector"), "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        (("spec:\n  selector", "spec:\n  strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}\n  selector"),
         "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: \"0\": may not be 0 when `maxSurge` is 0"),
        (("spec:\n  selector", "spec:\n  strategy: {rollingUpdate: {maxSurge: 10x}}\n  selector"),
         'spec.strategy.rollingUpdate.maxSurge: Invalid value: "10x": must be a non-negative integer or a percentage'),
        (("spec:\n  selector", "spec:\n  strategy: {type: Recreate, rollingUpdate: {maxSurge: 1}}\n  selector"),
         "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"),
        (("selector: {matchLabels: {app: web}}", "selector: {}"), "spec.selector: Required value"),
        (("containers: [{name: c", "restartPolicy: Never, containers: [{name: c"),
         'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'),
    ],
)  # fmt: skip
def test_bad_deployments_are_refused_with_the_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        with pytest.raises(Invalid) as refused:
            await admin.create(deployment(DEPLOYMENT.replace(*change)))
        assert expected in [str(c) for c in refused.value.causes] or any(
            str(c).startswith(expected) for c in refused.value.causes
        ), refused.value.causes
        assert (await admin.list(resources.DEPLOYMENTS))[0] == []

    run(tmp_path, scenario)


def test_generation_status_subresource_and_immutable_selector(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(deployment())
        relabeled = apps_pb2.Deployment()
        relabeled.CopyFrom(created)
        relabeled.metadata.labels["tier"] = "front"
        relabeled.status.replicas = 7  # ignored: status changes only through the subresource
        relabeled = await admin.update(relabeled)
        assert relabeled.metadata.generation == 1 and relabeled.status.replicas == 0
        relabeled.spec.replicas = 3
        scaled = await admin.update(relabeled)
        assert scaled.metadata.generation == 2
        scaled.status.observed_generation, scaled.status.replicas = 2, 3
        scaled.spec.replicas = 9  # ignored by a status update
        reported = await admin.update_status(scaled)
        assert (reported.spec.replicas, reported.status.replicas, reported.metadata.generation) == (3, 3, 2)
        reported.spec.selector.match_labels["app"] = "other"
        reported.spec.template.metadata.labels["app"] = "other"
        with pytest.raises(
            Invalid, match=re.escape('spec.selector: Invalid value: "app=other": field is immutable')
        ):
            await admin.update(reported)
        wrong = deployment()
        wrong.api_version = "apps/v2"
        with pytest.raises(
            Invalid, match='apiVersion: Unsupported value: "apps/v2": supported values: "apps/v1"'
        ):
            await admin.create(wrong)

    run(tmp_path, scenario)


def test_namespaces_exist_refuse_strangers_and_terminate(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        names = {n.metadata.name for n in (await admin.list(resources.NAMESPACES))[0]}
        assert set(wellknown.SYSTEM_NAMESPACES) <= names
        elsewhere = deployment()
        elsewhere.metadata.namespace = "nowhere"
        with pytest.raises(NotFound, match='namespaces "nowhere" not found'):
            await admin.create(elsewhere)
        created = await admin.create(namespace("team"))
        assert (list(created.spec.finalizers), created.status.phase) == (["kubernetes"], "Active")
        terminating, gone = await admin.delete(resources.NAMESPACES, "", "team")
        assert not gone and terminating.status.phase == "Terminating"
        assert terminating.metadata.HasField("deletion_timestamp")
        inside = deployment()
        inside.metadata.namespace = "team"
        with pytest.raises(
            Forbidden, match="unable to create new content in namespace team because it is being terminated"
        ):
            await admin.create(inside)
        del terminating.spec.finalizers[:]  # what the namespace controller does once it is empty
        await admin.update(terminating)
        with pytest.raises(NotFound):
            await admin.get(resources.NAMESPACES, "", "team")

    run(tmp_path, scenario)


def test_finalizers_hold_a_deleted_object_until_they_are_removed(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        held = deployment()
        held.metadata.finalizers.append("example.com/hold")
        await admin.create(held)
        waiting, gone = await admin.delete(resources.DEPLOYMENTS, "default", "web")
        assert not gone and waiting.metadata.HasField("deletion_timestamp")
        del waiting.metadata.finalizers[:]
        await admin.update(waiting)
        with pytest.raises(NotFound):
            await admin.get(resources.DEPLOYMENTS, "default", "web")
        await admin.create(deployment())
        orphaning, gone = await admin.delete(
            resources.DEPLOYMENTS, "default", "web", propagation_policy="Orphan"
        )
        assert not gone and list(orphaning.metadata.finalizers) == [wellknown.FINALIZER_ORPHAN]
        foreground = deployment()
        foreground.metadata.name = "web-2"
        await admin.create(foreground)
        blocked, _ = await admin.delete(
            resources.DEPLOYMENTS, "default", "web-2", propagation_policy="Foreground"
        )
        assert list(blocked.metadata.finalizers) == [wellknown.FINALIZER_FOREGROUND]
        await admin.create(deployment(DEPLOYMENT.replace("name: web", "name: web-3")))
        assert (await admin.delete(resources.DEPLOYMENTS, "default", "web-3"))[1]  # Background: gone at once

    run(tmp_path, scenario)


def test_events_expire_through_a_store_lease(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        event = event_pb2.Event(type="Normal", reason="Tested", message="hello", count=1)
        event.metadata.name, event.metadata.namespace = "web.1", "default"
        event.involved_object.kind, event.involved_object.name = "Pod", "web"
        await admin.create(event)
        async with grpc.aio.insecure_channel(plane.store_address) as channel:
            kv = (
                await rpc_pb2_grpc.KVStub(channel).Range(
                    rpc_pb2.RangeRequest(key=b"/registry/events/default/web.1")
                )
            ).kvs[0]
            assert kv.lease != 0
            ttl = await rpc_pb2_grpc.LeaseStub(channel).LeaseTimeToLive(
                rpc_pb2.LeaseTimeToLiveRequest(ID=kv.lease)
            )
            assert 3600 <= ttl.TTL <= 3660
        listed, _ = await admin.list(resources.EVENTS, "default", field_selector="involvedObject.name=web")
        assert [e.reason for e in listed] == ["Tested"]

    run(tmp_path, scenario)


def test_a_node_may_renew_only_its_own_lease(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        def lease(name: str) -> coordination_pb2.Lease:
            obj = coordination_pb2.Lease()
            obj.metadata.name, obj.metadata.namespace = name, wellknown.NAMESPACE_NODE_LEASE
            obj.spec.holder_identity, obj.spec.lease_duration_seconds = name, 40
            return obj

        async with plane.client("node-1-token") as kubelet:
            created = await kubelet.create(lease("node-1"))
            assert (created.api_version, created.spec.holder_identity) == ("coordination.k8s.io/v1", "node-1")
            with pytest.raises(
                Forbidden,
                match=re.escape('cannot create resource "leases" in API group "coordination.k8s.io"'),
            ):
                await kubelet.create(lease("node-2"))

    run(tmp_path, scenario)
