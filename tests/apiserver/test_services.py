"""Services on a real store and API server: allocation of ClusterIPs and NodePorts (under
concurrency too), release on delete and on type change, validation, and the system Services."""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cluster.api import manifest, resources
from cluster.apiserver.allocation import ServiceNetwork
from cluster.apiserver.system import ensure_system_objects
from cluster.client.api import ApiClient
from cluster.errors import Invalid
from raykube.v1 import service_pb2
from tests.harness import ControlPlane, control_plane


def service(
    name: str = "web", extra: str = "", ports: str = "[{port: 80, targetPort: 8080}]"
) -> service_pb2.Service:
    [obj] = manifest.load(f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n"
                          f"spec:\n  selector: {{app: web}}\n  ports: {ports}\n{extra}")  # fmt: skip
    assert isinstance(obj, service_pb2.Service)
    return obj


def run(
    tmp_path: Path, scenario: Callable[[ControlPlane, ApiClient], Awaitable[None]], **options: object
) -> None:
    async def main() -> None:
        async with control_plane(tmp_path, **options) as plane, plane.client() as admin:
            await scenario(plane, admin)

    asyncio.run(main())


def test_the_system_services_exist(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        kubernetes = await admin.get(resources.SERVICES, "default", "kubernetes")
        assert kubernetes.spec.cluster_ip == "10.96.0.1" and kubernetes.spec.ports[0].port == 443
        dns = await admin.get(resources.SERVICES, "kube-system", "kube-dns")
        assert dns.spec.cluster_ip == "10.96.0.10" and {p.protocol for p in dns.spec.ports} == {"UDP", "TCP"}
        endpoints = await admin.get(resources.ENDPOINTS, "default", "kubernetes")
        host, port = plane.api.rest_address.rsplit(":", 1)  # the HTTPS side: kubernetes:443 is HTTPS
        assert (endpoints.subsets[0].addresses[0].ip, endpoints.subsets[0].ports[0].port) == (host, int(port))
        # restarted on another port, one of two API servers
        await ensure_system_objects(plane.api.registry, ["127.0.0.1", "127.0.0.2"], 16443)
        endpoints = await admin.get(resources.ENDPOINTS, "default", "kubernetes")
        endpoint_slice = await admin.get(resources.ENDPOINTSLICES, "default", "kubernetes")
        assert (endpoints.subsets[0].ports[0].port, endpoint_slice.ports[0].port) == (16443, 16443)
        assert [a.ip for a in endpoints.subsets[0].addresses] == ["127.0.0.1", "127.0.0.2"]
        assert [e.addresses[0] for e in endpoint_slice.endpoints if e.conditions.ready] == [
            "127.0.0.1",
            "127.0.0.2",
        ]

    run(tmp_path, scenario)


def test_a_cluster_ip_is_allocated_defaulted_and_refused_when_taken(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await admin.create(service())
        spec = created.spec
        assert ipaddress.IPv4Address(spec.cluster_ip) in ipaddress.IPv4Network("10.96.0.0/12")
        assert list(spec.cluster_ips) == [spec.cluster_ip]
        assert (spec.type, spec.session_affinity, spec.ports[0].protocol, spec.ports[0].target_port) == (
            "ClusterIP",
            "None",
            "TCP",
            "8080",
        )
        with pytest.raises(
            Invalid,
            match=re.escape('spec.clusterIP: Invalid value: "10.96.0.1": provided IP is already allocated'),
        ):
            await admin.create(service("taken", extra="  clusterIP: 10.96.0.1\n"))
        with pytest.raises(
            Invalid,
            match=re.escape(
                'spec.clusterIP: Invalid value: "192.168.0.1": provided IP is not in the valid range'
            ),
        ):
            await admin.create(service("elsewhere", extra="  clusterIP: 192.168.0.1\n"))
        changed = await admin.get(resources.SERVICES, "default", "web")
        changed.spec.cluster_ip = "10.96.0.77"
        with pytest.raises(
            Invalid, match=re.escape('spec.clusterIP: Invalid value: "10.96.0.77": field is immutable')
        ):
            await admin.update(changed)
        await admin.delete(resources.SERVICES, "default", "web")
        again = await admin.create(service("again", extra=f"  clusterIP: {spec.cluster_ip}\n"))
        assert again.spec.cluster_ip == spec.cluster_ip  # released on delete
        headless = await admin.create(service("headless", extra="  clusterIP: None\n"))
        assert headless.spec.cluster_ip == "None"

    run(tmp_path, scenario)


def test_concurrent_creates_never_share_an_address(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        created = await asyncio.gather(*(admin.create(service(f"svc-{i}")) for i in range(25)))
        ips = [s.spec.cluster_ip for s in created]
        assert len(set(ips)) == 25 and all(
            ipaddress.IPv4Address(ip) in ipaddress.IPv4Network("10.97.0.0/27") for ip in ips
        )

    # 30 addresses, 2 taken by kubernetes and kube-dns: 25 random picks collide, and are picked again
    run(tmp_path, scenario, network=ServiceNetwork(ipaddress.IPv4Network("10.97.0.0/27")))


def test_node_ports_are_allocated_in_range_kept_and_released(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, admin: ApiClient) -> None:
        node_port = await admin.create(service(extra="  type: NodePort\n"))
        port = node_port.spec.ports[0].node_port
        assert 30000 <= port <= 32767 and node_port.spec.external_traffic_policy == "Cluster"
        wanted = service("wanted", extra="  type: NodePort\n", ports=f"[{{port: 80, nodePort: {port}}}]")
        with pytest.raises(
            Invalid,
            match=re.escape(
                f'spec.ports[0].nodePort: Invalid value: "{port}": provided port is already allocated'
            ),
        ):
            await admin.create(wanted)
        reapplied = service(extra="  type: NodePort\n")  # a manifest without the nodePort keeps it
        reapplied.metadata.resource_version = node_port.metadata.resource_version
        assert (await admin.update(reapplied)).spec.ports[0].node_port == port
        back = service()  # back to ClusterIP: the port is released
        assert (await admin.update(back)).spec.ports[0].node_port == 0
        assert (await admin.create(wanted)).spec.ports[0].node_port == port
        with pytest.raises(Invalid) as refused:
            await admin.create(service("bad", extra="  type: ClusterIP\n",
                                       ports="[{name: a, port: 80, nodePort: 30001}, {name: a, port: 70000}]"))  # fmt: skip
        assert {str(c) for c in refused.value.causes} >= {
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
            'spec.ports[1].name: Duplicate value: "a"',
            "spec.ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        }

    run(tmp_path, scenario)
