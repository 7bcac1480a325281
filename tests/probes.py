"""Asking a gRPC server what every raykube component answers: its health, and (by reflection) its services."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc


async def status(channel: grpc.aio.Channel, service: str = "") -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service))
    return reply.status


async def services(channel: grpc.aio.Channel) -> set[str]:
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
        iter([request])
    ):
        return {service.name for service in reply.list_services_response.service}
    raise AssertionError("no reflection answer")
