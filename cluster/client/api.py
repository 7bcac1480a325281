"""An async client for the API server's gRPC service, in terms of typed objects.

Every call carries the caller's bearer token; every failure comes back as the ApiError the server
raised (cluster/errors.py), so callers branch on `NotFound`/`Conflict`, never on gRPC codes.
The target is a "host:port", several of them (every API server of the cluster), or a resolver
coroutine (components find the API servers through Ray). After UNAVAILABLE the client resolves
again, so a restarted API server is found, and with several servers it moves on to the next: a
unary call that found its server unavailable is tried once on each (the server could not be
reached, or could not reach the store); a watch or log stream fails and its caller starts again.

The unary verbs travel on one Exchange stream shared by all of the client's tasks (exchange.py:
one message carries every call pending, which costs far less than a gRPC call each); against a
server without Exchange the client makes them unary calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message

from cluster.api import resources
from cluster.api.calls import ARM_OF_METHOD
from cluster.api.resources import T as Kind  # one kind, the same throughout a signature
from cluster.client.exchange import Exchange, Unsupported
from cluster.errors import ApiError, Conflict, Unavailable, from_rpc_error
from cluster.tls import Tls, open_channel
from raykube.v1 import api_pb2, api_pb2_grpc

T = TypeVar("T", bound=resources.ApiObject)
Resolver = Callable[[], Awaitable[str]]

# Keepalives notice a dead peer on long watches; large messages fit big lists.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 20_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
)
WATCH_EVENT_NAMES = {
    api_pb2.ADDED: "ADDED",
    api_pb2.MODIFIED: "MODIFIED",
    api_pb2.DELETED: "DELETED",
    api_pb2.BOOKMARK: "BOOKMARK",
}


class ApiClient:
    """One channel to the API server; safe to share between tasks of one event loop."""

    def __init__(
        self,
        target: str | Sequence[str] | Resolver,
        token: str = "",
        *,
        tls: Tls | None = None,
        timeout: float = 30.0,
        tries: int = 0,
    ):
        """`tries`: how many servers a unary call tries after UNAVAILABLE (default: as many as
        are listed; 1 for a resolver, unless the caller knows it has more to offer)."""
        self._resolve: Resolver
        if callable(target):
            self._resolve, listed = target, 1
        else:
            servers = [target] if isinstance(target, str) else list(target)
            self._resolve, listed = _rotating(servers), len(servers)
        self._tries = tries or listed
        self._token = token
        self._tls = tls
        self._timeout = timeout
        self._channel: grpc.aio.Channel | None = None
        self._stub: api_pb2_grpc.ApiStub | None = None
        self._exchange: Exchange | None = None
        self._unary_only = False  # the server has no Exchange
        self.target = ""

    async def _api(self) -> api_pb2_grpc.ApiStub:
        if self._stub is None:
            self.target = await self._resolve()
            self._channel = open_channel(self.target, self._tls, CHANNEL_OPTIONS)
            self._stub = api_pb2_grpc.ApiStub(self._channel)
        return self._stub

    async def _open_exchange(self) -> Exchange:
        if self._exchange is None or self._exchange.failure is not None:
            await self._api()
            assert self._channel is not None
            self._exchange = Exchange(self._channel, self._metadata())
        return self._exchange

    async def close(self) -> None:
        if self._exchange is not None:
            await self._exchange.close()
        if self._channel is not None:
            await self._channel.close()
        self._channel, self._stub, self._exchange = None, None, None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {self._token}"),) if self._token else ()

    def _failed(self, err: grpc.RpcError | ApiError) -> ApiError:
        error = err if isinstance(err, ApiError) else from_rpc_error(err)
        if isinstance(error, Unavailable):
            self._stub = None  # resolve again next time: the server may have moved
        return error

    async def _call(self, method: str, request: Message, timeout: float | None = None) -> Any:
        for attempt in range(self._tries):
            try:
                if not self._unary_only:
                    exchange = await self._open_exchange()
                    return await exchange.call(ARM_OF_METHOD[method], request, timeout or self._timeout)
                stub = await self._api()
                return await getattr(stub, method)(
                    request, metadata=self._metadata(), timeout=timeout or self._timeout
                )
            except Unsupported:
                self._unary_only = True  # nothing ran: the same call goes again, unary
                return await self._call(method, request, timeout)
            except (grpc.RpcError, Unavailable) as err:
                error = self._failed(err)
            if not isinstance(error, Unavailable) or attempt == self._tries - 1:
                raise error from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the verbs -----------------------------------------------------------------------------

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        resource = resources.of(obj)
        response = await self._call(
            "Create", api_pb2.CreateRequest(object=resource.wrap(obj), dry_run=dry_run)
        )
        return _typed(response.object, obj)

    async def get(self, resource: resources.Resource[Kind], namespace: str, name: str) -> Kind:
        ref = api_pb2.ObjectRef(resource=resource.name, namespace=namespace, name=name)
        response = await self._call("Get", api_pb2.GetRequest(ref=ref))
        obj: Kind = resources.unwrap(response.object)[1]
        return obj

    async def list(
        self,
        resource: resources.Resource[Kind],
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Kind], str]:
        """The matching objects and the resourceVersion to watch from."""
        request = api_pb2.ListRequest(
            resource=resource.name,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
        )
        response: api_pb2.ListResponse = await self._call("List", request)
        return [resources.unwrap(o)[1] for o in response.items], response.metadata.resource_version

    async def update(self, obj: T) -> T:
        response = await self._call("Update", api_pb2.UpdateRequest(object=resources.of(obj).wrap(obj)))
        return _typed(response.object, obj)

    async def modify(
        self,
        resource: resources.Resource[Any],
        namespace: str,
        name: str,
        change: Callable[[Any], object],
        *,
        attempts: int = 10,
    ) -> Any:
        """Read the object, `change` it in place, write it; read and change again after a Conflict
        (client-go's RetryOnConflict). Returns the object as written."""
        for attempt in range(attempts):
            obj = await self.get(resource, namespace, name)
            change(obj)
            try:
                return await self.update(obj)
            except Conflict:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def update_status(self, obj: T) -> T:
        response = await self._call("UpdateStatus", api_pb2.UpdateRequest(object=resources.of(obj).wrap(obj)))
        return _typed(response.object, obj)

    async def delete(
        self,
        resource: resources.Resource,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str = "",
        resource_version: str = "",
        propagation_policy: str = "",
    ) -> tuple[resources.ApiObject, bool]:
        """The object as deleted (or as now terminating) and whether it is gone from the store."""
        request = api_pb2.DeleteRequest(
            ref=api_pb2.ObjectRef(resource=resource.name, namespace=namespace, name=name),
            preconditions=api_pb2.Preconditions(uid=uid, resource_version=resource_version),
            propagation_policy=propagation_policy,
        )
        if grace_period_seconds is not None:
            request.grace_period_seconds = grace_period_seconds
        response: api_pb2.DeleteResponse = await self._call("Delete", request)
        return resources.unwrap(response.object)[1], response.deleted

    async def create_token(
        self, namespace: str, service_account: str, *, pod_name: str = "", pod_uid: str = "",
        expiration_seconds: int = 0,
    ) -> tuple[str, int]:  # fmt: skip
        """A ServiceAccount token (bound to a pod, if named) and when it expires (epoch seconds)."""
        request = api_pb2.CreateTokenRequest(
            namespace=namespace, service_account=service_account, pod_name=pod_name, pod_uid=pod_uid,
            expiration_seconds=expiration_seconds,
        )  # fmt: skip
        response: api_pb2.CreateTokenResponse = await self._call("CreateToken", request)
        return response.token, response.expiration.seconds

    async def bind(
        self, namespace: str, name: str, node_name: str, *, uid: str = "", resource_version: str = ""
    ) -> resources.ApiObject:
        request = api_pb2.BindRequest(
            namespace=namespace,
            name=name,
            node_name=node_name,
            preconditions=api_pb2.Preconditions(uid=uid, resource_version=resource_version),
        )
        response = await self._call("Bind", request)
        return resources.unwrap(response.object)[1]

    async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> Sequence[str | ApiError]:
        """Several binds in one round trip: per bind, the bound pod's resourceVersion or the error
        Bind would raise."""
        response: api_pb2.BindManyResponse = await self._call(
            "BindMany", api_pb2.BindManyRequest(binds=binds)
        )
        return [
            ApiError.from_status(r.error) if r.HasField("error") else r.resource_version
            for r in response.results
        ]

    async def whoami(self) -> api_pb2.WhoAmIResponse:
        response: api_pb2.WhoAmIResponse = await self._call("WhoAmI", api_pb2.WhoAmIRequest())
        return response

    async def watch(
        self,
        resource: resources.Resource,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[tuple[str, resources.ApiObject]]:
        """("ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK", object) until the stream ends or fails."""
        stub = await self._api()
        request = api_pb2.WatchRequest(
            resource=resource.name,
            namespace=namespace,
            resource_version=resource_version,
            label_selector=label_selector,
            field_selector=field_selector,
            allow_bookmarks=allow_bookmarks,
        )
        call = stub.Watch(request, metadata=self._metadata())
        try:
            async for message in call:
                for event in message.events:
                    yield WATCH_EVENT_NAMES[event.type], resources.unwrap(event.object)[1]
        except grpc.RpcError as err:
            raise self._failed(err) from None
        finally:
            call.cancel()

    async def logs(
        self,
        namespace: str,
        name: str,
        *,
        container: str = "",
        follow: bool = False,
        tail_lines: int = 0,
        previous: bool = False,
    ) -> AsyncIterator[bytes]:
        stub = await self._api()
        request = api_pb2.LogsRequest(
            namespace=namespace,
            name=name,
            container=container,
            follow=follow,
            tail_lines=tail_lines,
            previous=previous,
        )
        call = stub.Logs(request, metadata=self._metadata())
        try:
            async for chunk in call:
                yield chunk.data
        except grpc.RpcError as err:
            raise self._failed(err) from None
        finally:
            call.cancel()


def _rotating(servers: list[str]) -> Resolver:
    """The first server, then the next one each time the client resolves again (after a failure)."""
    if not servers:
        raise ValueError("an API client needs at least one server address")
    turn = -1

    async def resolve() -> str:
        nonlocal turn
        turn += 1
        return servers[turn % len(servers)]

    return resolve


def _typed(envelope: api_pb2.Object, like: T) -> T:
    obj = resources.unwrap(envelope)[1]
    if not isinstance(obj, type(like)):
        raise ApiError(f"server answered a {type(obj).__name__} for a {type(like).__name__}")
    return obj
