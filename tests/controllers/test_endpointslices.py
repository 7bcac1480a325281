"""The EndpointSlice controller: its pure part as table tests, then on a real API server with
hollow nodes (slices follow the pods, and go with their Service)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import manifest, resources
from cluster.client.api import ApiClient
from cluster.controllers.endpointslice.controller import (
    MAX_ENDPOINTS_PER_SLICE,
    SERVICE_NAME_LABEL,
    desired_slices,
    endpoints_object,
)
from raykube.v1 import pod_pb2, service_pb2
from tests.controllers.builders import deployment
from tests.controllers.builders import pod as running_pod
from tests.controllers.test_workloads import until, workload_cluster


def service(ports: str = "[{name: http, port: 80, targetPort: web}]") -> service_pb2.Service:
    [obj] = manifest.load(f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: default}}\n"
                          f"spec:\n  selector: {{app: web}}\n  ports: {ports}\n")  # fmt: skip
    assert isinstance(obj, service_pb2.Service)
    return obj


def pod(name: str, ip: str, *, ready: bool = True, port_name: str = "web", port: int = 8080) -> pod_pb2.Pod:
    made = running_pod(name, ready_since=100 if ready else None)
    made.status.pod_ip = ip
    made.spec.containers.add(name="c").ports.add(name=port_name, container_port=port)
    return made


def test_endpoints_follow_readiness_named_ports_and_termination() -> None:
    terminating = pod("d", "10.88.0.4")
    terminating.metadata.deletion_timestamp.CopyFrom(Timestamp(seconds=1))
    other_port = pod("e", "10.88.0.5", port=9090)
    no_ip, finished = pod("f", ""), pod("g", "10.88.0.7")
    finished.status.phase = "Succeeded"
    unlabeled = pod("h", "10.88.0.8")
    unlabeled.metadata.labels["app"] = "db"
    missing_port = pod("i", "10.88.0.9", port_name="other")
    pods = [pod("a", "10.88.0.1"), pod("b", "10.88.0.2", ready=False), terminating, other_port, no_ip, finished,
            unlabeled, missing_port]  # fmt: skip
    slices = desired_slices(service(), pods)
    assert [ports for ports, _ in slices] == [(("http", "TCP", 8080),), (("http", "TCP", 9090),)]
    by_ip = {e.addresses[0]: e.conditions for _, members in slices for e in members}
    assert set(by_ip) == {"10.88.0.1", "10.88.0.2", "10.88.0.4", "10.88.0.5"}
    assert (by_ip["10.88.0.1"].ready, by_ip["10.88.0.2"].ready) == (True, False)
    assert (by_ip["10.88.0.4"].ready, by_ip["10.88.0.4"].serving, by_ip["10.88.0.4"].terminating) == (
        False,
        True,
        True,
    )
    endpoints = endpoints_object(service(), slices)
    assert [[a.ip for a in s.addresses] for s in endpoints.subsets] == [["10.88.0.1"], ["10.88.0.5"]]
    assert [a.ip for a in endpoints.subsets[0].not_ready_addresses] == ["10.88.0.2", "10.88.0.4"]


def test_a_hundred_endpoints_per_slice_at_most() -> None:
    pods = [pod(f"p{i:03d}", f"10.88.{i // 250}.{i % 250 + 1}") for i in range(250)]
    slices = desired_slices(service("[{port: 80, targetPort: 8080}]"), pods)
    assert [len(members) for _, members in slices] == [MAX_ENDPOINTS_PER_SLICE, MAX_ENDPOINTS_PER_SLICE, 50]


def test_slices_follow_the_pods_and_go_with_their_service(tmp_path: Path) -> None:
    async def slices(admin: ApiClient) -> list[tuple[str, bool]]:
        items, _ = await admin.list(
            resources.ENDPOINTSLICES, "default", label_selector=f"{SERVICE_NAME_LABEL}=web"
        )
        return sorted((e.addresses[0], e.conditions.ready) for s in items for e in s.endpoints)

    async def scenario() -> None:
        async with workload_cluster(tmp_path) as admin:
            d = deployment(3)
            d.spec.template.spec.containers[0].ports.add(name="web", container_port=8080)
            await admin.create(d)
            created = await admin.create(service())
            await until(lambda: _count(slices(admin), 3), "3 ready endpoints")

            async def mirrored() -> service_pb2.Endpoints | None:  # its own controller: a moment later
                found = await admin.get(resources.ENDPOINTS, "default", "web")
                return found if found.subsets and len(found.subsets[0].addresses) == 3 else None

            endpoints = await until(mirrored, "3 addresses in the Endpoints")
            assert endpoints.subsets[0].ports[0].port == 8080
            await admin.modify(
                resources.DEPLOYMENTS, "default", "web", lambda o: setattr(o.spec, "replicas", 1)
            )
            await until(lambda: _count(slices(admin), 1), "1 endpoint after scaling down")
            await admin.delete(resources.SERVICES, "default", created.metadata.name)
            await until(lambda: _count(slices(admin), 0), "no slice without its Service")

    asyncio.run(scenario())


async def _count(found: asyncio.Future[list[tuple[str, bool]]] | object, wanted: int) -> bool:
    endpoints = await found  # type: ignore[misc]
    return len(endpoints) == wanted and all(ready for _, ready in endpoints)
