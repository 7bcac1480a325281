"""The Exchange stream (api.proto): unary calls of many tasks on one stream, against the real
API server and store, and against small stand-in servers for what a real one does not do
(never answer, fail mid-stream, predate Exchange)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from cluster.api import calls, resources
from cluster.client.api import ApiClient
from cluster.client.exchange import Exchange
from cluster.errors import AlreadyExists, BadRequest, Invalid, NotFound, Timeout, Unauthorized, Unavailable
from raykube.v1 import api_pb2, pod_pb2
from tests.harness import ControlPlane, control_plane

API = api_pb2.DESCRIPTOR.services_by_name["Api"].full_name


def pod(name: str, **labels: str) -> pod_pb2.Pod:
    made = pod_pb2.Pod(api_version="v1", kind="Pod")
    made.metadata.name, made.metadata.namespace = name, "default"
    made.metadata.labels.update(labels)
    made.spec.containers.add(name="main", image="busybox:1.35")
    return made


def create(obj: Any) -> api_pb2.CreateRequest:
    return api_pb2.CreateRequest(object=resources.of(obj).wrap(obj))


def run(tmp_path: Path, scenario: Callable[[ControlPlane], Awaitable[None]]) -> None:
    async def main() -> None:
        async with control_plane(tmp_path) as plane:
            await scenario(plane)

    asyncio.run(main())


def test_frames_parse_as_the_messages_they_stand_for() -> None:
    request = create(pod("a", k="v" * 60, l="w" * 60, m="x" * 60))  # a length past one varint byte
    joined = calls.call_frame(1, "create", request.SerializeToString()) + calls.call_frame(
        2**40, "update_status", api_pb2.UpdateRequest().SerializeToString()
    )
    assert api_pb2.Calls.FromString(joined) == api_pb2.Calls(
        calls=[
            api_pb2.Call(id=1, create=request),
            api_pb2.Call(id=2**40, update_status=api_pb2.UpdateRequest()),
        ]
    )
    response = api_pb2.WhoAmIResponse(username="u", groups=["g"])
    assert api_pb2.Replies.FromString(calls.reply_frame(9, "who_am_i", response.SerializeToString())) == (
        api_pb2.Replies(replies=[api_pb2.Reply(id=9, who_am_i=response)])
    )
    assert calls.method_of("who_am_i") == "WhoAmI" and calls.method_of("update_status") == "UpdateStatus"


def test_concurrent_calls_share_messages_and_each_gets_its_own_answer(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane) -> None:
        async with plane.client() as admin:
            await admin.create(pod("taken"))
        channel = grpc.aio.insecure_channel(plane.address)
        exchange = Exchange(channel, (("authorization", "Bearer admin-token"),))
        try:
            timeout = 10.0
            good = [exchange.call("create", create(pod(f"p{i}", i=str(i))), timeout) for i in range(40)]
            bad = [
                exchange.call("create", create(pod("taken")), timeout),
                exchange.call("create", create(pod("Not_A_Name")), timeout),
                exchange.call("get", api_pb2.GetRequest(ref=api_pb2.ObjectRef(
                    resource="pods", namespace="default", name="missing")), timeout),
            ]  # fmt: skip
            results = await asyncio.gather(*good, *bad, return_exceptions=True)
            created = results[:40]
            assert [resources.unwrap(r.object)[1].metadata.labels["i"] for r in created] == [
                str(i) for i in range(40)
            ]
            assert len({resources.unwrap(r.object)[1].metadata.resource_version for r in created}) == 40
            taken, invalid, missing = results[40:]
            assert isinstance(taken, AlreadyExists) and isinstance(missing, NotFound)
            assert isinstance(invalid, Invalid) and invalid.causes[0].field == "metadata.name"
            assert exchange.messages_sent < 10  # 43 calls, queued while the first message went
        finally:
            await exchange.close()
            await channel.close()

    run(tmp_path, scenario)


def test_each_call_is_authenticated_and_a_call_without_a_request_is_refused(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane) -> None:
        channel = grpc.aio.insecure_channel(plane.address)
        stranger = Exchange(channel, (("authorization", "Bearer no-such-token"),))
        try:
            with pytest.raises(Unauthorized):
                await stranger.call("who_am_i", api_pb2.WhoAmIRequest(), 10)
            assert stranger.failure is None  # a refused call, not a broken stream
            stream = channel.stream_stream(f"/{API}/Exchange", request_serializer=None,
                                           response_deserializer=api_pb2.Replies.FromString)(
                metadata=(("authorization", "Bearer admin-token"),))  # fmt: skip
            await stream.write(api_pb2.Calls(calls=[api_pb2.Call(id=7)]).SerializeToString())
            reply = (await stream.read()).replies[0]
            assert reply.id == 7 and reply.error.reason == BadRequest.reason
            stream.cancel()
        finally:
            await stranger.close()
            await channel.close()

    run(tmp_path, scenario)


class StandIn:
    """A gRPC server with only the handlers a test gives it, under the Api service's name."""

    def __init__(self, handlers: dict[str, grpc.RpcMethodHandler]):
        self.server = grpc.aio.server()
        self.server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(API, handlers),))
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"

    async def __aenter__(self) -> StandIn:
        await self.server.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.server.stop(0)


def exchange_handler(serve: Callable[..., AsyncIterator[bytes]]) -> grpc.RpcMethodHandler:
    return grpc.stream_stream_rpc_method_handler(serve, request_deserializer=api_pb2.Calls.FromString)


def test_an_unanswered_call_times_out_and_a_broken_stream_fails_every_waiting_call() -> None:
    received = asyncio.Event()

    async def silent(requests: AsyncIterator[api_pb2.Calls], context: Any) -> AsyncIterator[bytes]:
        async for batch in requests:
            if any(c.WhichOneof("request") == "get" for c in batch.calls):
                received.set()
            if any(c.WhichOneof("request") == "delete" for c in batch.calls):
                await context.abort(grpc.StatusCode.UNAVAILABLE, "going away")
        yield b""  # pragma: no cover (never answers)

    async def main() -> None:
        async with StandIn({"Exchange": exchange_handler(silent)}) as server:
            channel = grpc.aio.insecure_channel(server.address)
            exchange = Exchange(channel, ())
            try:
                with pytest.raises(Timeout):
                    await exchange.call("get", api_pb2.GetRequest(), 0.3)
                assert received.is_set()
                waiting = asyncio.ensure_future(exchange.call("list", api_pb2.ListRequest(), 10))
                await asyncio.sleep(0.1)
                with pytest.raises(Unavailable):
                    await exchange.call("delete", api_pb2.DeleteRequest(), 10)
                with pytest.raises(Unavailable):
                    await waiting
                assert isinstance(exchange.failure, Unavailable)
                with pytest.raises(Unavailable):  # the exchange is done: a new one is needed
                    await exchange.call("get", api_pb2.GetRequest(), 10)
            finally:
                await exchange.close()
                await channel.close()

    asyncio.run(main())


def test_the_client_fails_over_to_the_next_server_and_uses_unary_calls_where_exchange_is_missing(
    tmp_path: Path,
) -> None:
    async def broken(requests: AsyncIterator[api_pb2.Calls], context: Any) -> AsyncIterator[bytes]:
        await context.abort(grpc.StatusCode.UNAVAILABLE, "cannot reach the store")
        yield b""  # pragma: no cover

    unary_calls = []

    async def who_am_i(request: api_pb2.WhoAmIRequest, context: Any) -> api_pb2.WhoAmIResponse:
        unary_calls.append(request)
        return api_pb2.WhoAmIResponse(username="old-server")

    older = {"WhoAmI": grpc.unary_unary_rpc_method_handler(
        who_am_i, request_deserializer=api_pb2.WhoAmIRequest.FromString,
        response_serializer=api_pb2.WhoAmIResponse.SerializeToString)}  # fmt: skip

    async def scenario(plane: ControlPlane) -> None:
        down = StandIn({"Exchange": exchange_handler(broken)})
        async with down, ApiClient([down.address, plane.address], "admin-token") as client:
            assert (await client.whoami()).username == "admin"  # the second server answered
        async with StandIn(older) as old, ApiClient(old.address, "admin-token") as client:
            assert (await client.whoami()).username == "old-server"
            assert (await client.whoami()).username == "old-server"
            assert len(unary_calls) == 2  # unary from then on, without asking for Exchange again

    run(tmp_path, scenario)
