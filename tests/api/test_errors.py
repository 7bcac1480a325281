"""API errors survive the wire: code, reason and field causes round-trip through gRPC."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from cluster import errors
from raykube.v1 import api_pb2, api_pb2_grpc


class Failing(api_pb2_grpc.ApiServicer):
    def __init__(self, error: errors.ApiError):
        self.error = error

    async def WhoAmI(
        self, request: api_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.WhoAmIResponse:
        await errors.abort(context, self.error)


async def _round_trip(error: errors.ApiError) -> errors.ApiError:
    server = grpc.aio.server()
    api_pb2_grpc.add_ApiServicer_to_server(Failing(error), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await api_pb2_grpc.ApiStub(channel).WhoAmI(api_pb2.WhoAmIRequest())
            assert caught.value.code() == error.grpc_code
            return errors.from_rpc_error(caught.value)
    finally:
        await server.stop(None)


@pytest.mark.parametrize(
    "error",
    [
        errors.NotFound('pods "x" not found', kind="Pod", name="x"),
        errors.Conflict("stale"),
        errors.Gone("too old"),
        errors.Forbidden("no"),
        errors.Invalid.for_object(
            "Pod", "x", [errors.required("spec.containers"), errors.invalid("metadata.name", "X", "bad")]
        ),
    ],
)  # fmt: skip
def test_errors_round_trip_through_grpc(error: errors.ApiError) -> None:
    received = asyncio.run(_round_trip(error))
    assert type(received) is type(error)
    assert received.message == error.message
    assert received.causes == error.causes
    assert (received.kind, received.name) == (error.kind, error.name)


def test_invalid_message_lists_every_cause() -> None:
    err = errors.Invalid.for_object("Pod", "x", [errors.required("a"), errors.invalid("b", "v", "bad")])
    assert err.message == 'Pod "x" is invalid: [a: Required value, b: Invalid value: "v": bad]'
    assert err.http_code == 422 and err.grpc_code == grpc.StatusCode.INVALID_ARGUMENT
