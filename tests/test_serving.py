"""Every gRPC server answers health checks and reflection: a real server on loopback, over TLS with
client certificates the way components run, and a client without a certificate refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from cluster.bootstrap.pki import CertificateAuthority, Identity
from cluster.serving import Health, health_only, listen, service_names
from cluster.tls import Tls, open_channel
from raykube.v1 import kubelet_pb2, kubelet_pb2_grpc
from tests.probes import services, status


def _tls(ca: CertificateAuthority, identity: Identity) -> Tls:
    cert, key = ca.issue(identity)
    return Tls(ca.pair.cert.read_text(), cert.decode(), key.decode())


@pytest.fixture
def identities(tmp_path: Path) -> tuple[Tls, Tls]:
    ca = CertificateAuthority.ensure(tmp_path)
    server = _tls(ca, Identity("component", dns_names=("raykube",), server=True, client=True))
    return server, _tls(ca, Identity("admin", ("system:masters",), client=True))


def test_a_server_reports_serving_lists_its_services_and_not_serving_when_stopping(
    identities: tuple[Tls, Tls],
) -> None:
    server_tls, client_tls = identities

    async def scenario() -> None:
        server = grpc.aio.server()
        kubelet_pb2_grpc.add_KubeletServicer_to_server(kubelet_pb2_grpc.KubeletServicer(), server)
        health = await Health.install(server, service_names(kubelet_pb2.DESCRIPTOR))
        port = listen(server, "127.0.0.1:0", server_tls)
        await server.start()
        async with open_channel(f"127.0.0.1:{port}", client_tls) as channel:
            assert await status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING  # not yet
            await health.serving()
            assert await status(channel) == health_pb2.HealthCheckResponse.SERVING
            assert await status(channel, "raykube.v1.Kubelet") == health_pb2.HealthCheckResponse.SERVING
            assert await services(channel) == {
                "raykube.v1.Kubelet", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"}  # fmt: skip
            await health.stopping()
            assert await status(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
        await server.stop(None)

    asyncio.run(scenario())


def test_a_component_that_serves_nothing_else_is_probed_the_same_way_and_wants_a_certificate(
    identities: tuple[Tls, Tls],
) -> None:
    server_tls, client_tls = identities

    async def scenario() -> None:
        async with health_only(server_tls) as address:
            assert address.startswith("127.0.0.1:")
            async with open_channel(address, client_tls) as channel:
                assert await status(channel) == health_pb2.HealthCheckResponse.SERVING
            anonymous = grpc.aio.secure_channel(
                address,
                grpc.ssl_channel_credentials(root_certificates=server_tls.ca.encode()),
                options=[("grpc.ssl_target_name_override", "raykube")],
            )
            async with anonymous:
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    await status(anonymous)
                assert refused.value.code() == grpc.StatusCode.UNAVAILABLE

    asyncio.run(scenario())
