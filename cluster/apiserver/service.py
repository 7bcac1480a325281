"""The API server's gRPC service: every call is authenticated, then handed to the API's operations.

Handlers are thin: they authenticate the caller (bearer token in metadata), translate the request
into a call on `Api` (api.py: authorization, then the registry), and wrap the result. Every
ApiError becomes a gRPC status with the Kubernetes Status in trailing metadata (cluster/errors.py);
anything else is a bug and surfaces as UNKNOWN with a logged traceback (no catch-all hides it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import calls, resources
from cluster.apiserver.api import Api
from cluster.apiserver.auth import Authenticator, UserInfo
from cluster.apiserver.watch_encoding import WatchEncoder
from cluster.errors import ApiError, BadRequest, InternalError, abort
from cluster.serving import answered
from raykube.v1 import api_pb2, api_pb2_grpc, meta_pb2

MAX_BINDS = 1000  # per BindMany request
# Events per watch message: a burst goes as one message (one send, one read, instead of one per
# event), and 32 of etcd's largest objects (1.5 MiB) stay under the clients' 64 MiB message limit.
MAX_WATCH_EVENTS = 32
# Exchange: calls one stream may have under way (beyond, it stops reading: flow control holds the
# client back), and how many bytes of finished replies one Replies message gathers at most.
MAX_CALLS_IN_FLIGHT = 1024
MAX_REPLIES_BYTES = 4 << 20

log = logging.getLogger(__name__)
Req = TypeVar("Req")
Resp = TypeVar("Resp")


def unary(
    handler: Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await handler(self, request, context)
        except ApiError as err:
            await abort(context, err)

    return wrapper


def streaming(
    handler: Callable[[Any, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]],
) -> Callable[[Any, Req, grpc.aio.ServicerContext], AsyncIterator[Resp]]:
    @functools.wraps(handler)
    async def wrapper(self: Any, request: Req, context: grpc.aio.ServicerContext) -> AsyncIterator[Resp]:
        try:
            async for item in handler(self, request, context):
                yield item
        except ApiError as err:
            await abort(context, err)

    return wrapper


class ApiService(api_pb2_grpc.ApiServicer):
    def __init__(self, api: Api, authenticator: Authenticator, *, bookmark_every: float = 5.0):
        self._api = api
        self._authn = authenticator
        self._bookmark_every = bookmark_every
        self._encoder = WatchEncoder()
        # Exchange's arms -> the unary handlers themselves (before `unary` turns errors into aborts)
        self._handlers = {
            arm: getattr(type(self), calls.method_of(arm)).__wrapped__ for arm in calls.CALL_ARMS
        }

    def _user(self, context: grpc.aio.ServicerContext) -> UserInfo:
        certificates = context.auth_context().get("x509_pem_cert") or [None]
        return self._authn.from_metadata(context.invocation_metadata() or (), certificates[0])

    @unary
    async def Create(
        self, request: api_pb2.CreateRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.CreateResponse:
        resource, obj = resources.unwrap(request.object)
        created = await self._api.create(self._user(context), obj, dry_run=request.dry_run)
        return api_pb2.CreateResponse(object=resource.wrap(created))

    @unary
    async def Get(
        self, request: api_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.GetResponse:
        resource = resources.by_name(request.ref.resource)
        obj = await self._api.get(self._user(context), resource, request.ref.namespace, request.ref.name)
        return api_pb2.GetResponse(object=resource.wrap(obj))

    @unary
    async def List(
        self, request: api_pb2.ListRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.ListResponse:
        resource = resources.by_name(request.resource)
        items, version = await self._api.list_objects(
            self._user(context), resource, request.namespace, request.label_selector, request.field_selector
        )
        return api_pb2.ListResponse(
            items=[resource.wrap(o) for o in items], metadata=meta_pb2.ListMeta(resource_version=version)
        )

    async def _update(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext, *, status: bool
    ) -> api_pb2.UpdateResponse:
        resource, obj = resources.unwrap(request.object)
        updated = await self._api.update(self._user(context), obj, status=status)
        return api_pb2.UpdateResponse(object=resource.wrap(updated))

    @unary
    async def Update(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.UpdateResponse:
        return await self._update(request, context, status=False)

    @unary
    async def UpdateStatus(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.UpdateResponse:
        return await self._update(request, context, status=True)

    @unary
    async def Delete(
        self, request: api_pb2.DeleteRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.DeleteResponse:
        resource = resources.by_name(request.ref.resource)
        grace = request.grace_period_seconds if request.HasField("grace_period_seconds") else None
        obj, deleted = await self._api.delete(
            self._user(context), resource, request.ref.namespace, request.ref.name,
            grace_period_seconds=grace, uid=request.preconditions.uid,
            resource_version=request.preconditions.resource_version,
            propagation_policy=request.propagation_policy,
        )  # fmt: skip
        return api_pb2.DeleteResponse(object=resource.wrap(obj), deleted=deleted)

    @streaming
    async def Watch(
        self, request: api_pb2.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Serialized WatchEvents messages (watch_encoding.py), sent as they are."""
        resource = resources.by_name(request.resource)
        batches = await self._api.watch(
            self._user(context), resource, request.namespace, label_selector=request.label_selector,
            field_selector=request.field_selector, resource_version=request.resource_version,
            bookmark_every=self._bookmark_every if request.allow_bookmarks else None,
        )  # fmt: skip
        async for ready in batches:
            for start in range(0, len(ready), MAX_WATCH_EVENTS):
                yield self._encoder.encode(resource, ready[start : start + MAX_WATCH_EVENTS])

    @unary
    async def Bind(
        self, request: api_pb2.BindRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.BindResponse:
        pod = await self._api.bind(
            self._user(context), request.namespace, request.name, request.node_name,
            uid=request.preconditions.uid, resource_version=request.preconditions.resource_version,
        )  # fmt: skip
        return api_pb2.BindResponse(object=resources.PODS.wrap(pod))

    @unary
    async def BindMany(
        self, request: api_pb2.BindManyRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.BindManyResponse:
        if len(request.binds) > MAX_BINDS:
            raise BadRequest(f"at most {MAX_BINDS} binds per request, got {len(request.binds)}")
        user = self._user(context)

        async def bind(one: api_pb2.BindRequest) -> api_pb2.BindResult:
            try:
                pod = await self._api.bind(
                    user, one.namespace, one.name, one.node_name,
                    uid=one.preconditions.uid, resource_version=one.preconditions.resource_version,
                )  # fmt: skip
            except ApiError as err:
                return api_pb2.BindResult(error=err.to_status())
            return api_pb2.BindResult(resource_version=pod.metadata.resource_version)

        return api_pb2.BindManyResponse(results=await asyncio.gather(*map(bind, request.binds)))

    @unary
    async def WhoAmI(
        self, request: api_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.WhoAmIResponse:
        user = self._api.whoami(self._user(context))
        return api_pb2.WhoAmIResponse(username=user.name, groups=sorted(user.groups))

    @unary
    async def CreateToken(
        self, request: api_pb2.CreateTokenRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.CreateTokenResponse:
        token, expires = await self._api.create_token(
            self._user(context), request.namespace, request.service_account, pod_name=request.pod_name,
            pod_uid=request.pod_uid, expiration_seconds=request.expiration_seconds,
        )  # fmt: skip
        return api_pb2.CreateTokenResponse(token=token, expiration=Timestamp(seconds=expires))

    @streaming
    async def Logs(
        self, request: api_pb2.LogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api_pb2.LogsResponse]:
        chunks = self._api.logs(
            self._user(context), request.namespace, request.name, container=request.container,
            follow=request.follow, tail_lines=request.tail_lines, previous=request.previous,
        )  # fmt: skip
        async for data in chunks:
            yield api_pb2.LogsResponse(data=data)

    async def Exchange(
        self, requests: AsyncIterator[api_pb2.Calls], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        """Serialized Replies messages: each call runs as its own task, as a unary call would, and
        a message carries every reply finished since the last one went (api.proto: Exchange)."""
        credentials = cast(grpc.aio.ServicerContext, _StreamCredentials(context))

        async def each_call() -> AsyncIterator[api_pb2.Call]:
            async for batch in requests:
                for call in batch.calls:
                    yield call

        async for replies in answered(
            each_call(), lambda call: self._answer(call, credentials), MAX_CALLS_IN_FLIGHT
        ):
            while replies:  # at most MAX_REPLIES_BYTES a message (but at least one reply)
                size, count = 0, 0
                while count < len(replies) and (
                    count == 0 or size + len(replies[count]) <= MAX_REPLIES_BYTES
                ):
                    size += len(replies[count])
                    count += 1
                yield b"".join(replies[:count])
                replies = replies[count:]

    async def _answer(self, call: api_pb2.Call, context: grpc.aio.ServicerContext) -> bytes:
        """One call's reply frame: the unary handler's response, or its error as a Status."""
        arm = call.WhichOneof("request")
        try:
            if arm is None:
                raise BadRequest(f"call {call.id} names no request")
            response = await self._handlers[arm](self, getattr(call, arm), context)
            return calls.reply_frame(call.id, arm, response.SerializeToString())
        except ApiError as err:
            status = err.to_status()
        except Exception:  # a bug: said in the log with its traceback, as a unary call's would be
            log.exception("Exchange call %d (%s) failed", call.id, arm)
            status = InternalError(f"internal error in {calls.method_of(arm or '')}").to_status()
        return calls.reply_frame(call.id, calls.ERROR_ARM, status.SerializeToString())


class _StreamCredentials:
    """The part of an Exchange stream's context its calls read: its metadata and its connection's
    authentication (the client certificate), both fixed for the stream's life. Read from gRPC once
    per stream rather than once per call (each read copies them out of gRPC's core, the PEM
    certificate included); every call is still authenticated with them, as a unary call is."""

    def __init__(self, context: grpc.aio.ServicerContext):
        self._metadata = tuple(context.invocation_metadata() or ())
        self._auth = context.auth_context()

    def invocation_metadata(self) -> tuple[Any, ...]:
        return self._metadata

    def auth_context(self) -> dict[str, list[bytes]]:
        return self._auth


class _Handlers:
    """Catches the method handlers the generated code would register on a server."""

    handlers: dict[str, grpc.RpcMethodHandler]

    def add_generic_rpc_handlers(self, _: Any) -> None:
        pass

    def add_registered_method_handlers(self, _: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        self.handlers = handlers


def add_to_server(service: ApiService, server: grpc.aio.Server) -> None:
    """Register `service` as the generated code does, except that Watch and Exchange send their
    messages' bytes as they are: encoded already (watch_encoding.py: once for all watchers;
    cluster/api/calls.py: replies framed around their responses' bytes)."""
    caught = _Handlers()
    api_pb2_grpc.add_ApiServicer_to_server(service, caught)
    handlers = dict(caught.handlers)
    handlers["Watch"] = grpc.unary_stream_rpc_method_handler(
        service.Watch, request_deserializer=api_pb2.WatchRequest.FromString, response_serializer=None
    )
    handlers["Exchange"] = grpc.stream_stream_rpc_method_handler(
        service.Exchange, request_deserializer=api_pb2.Calls.FromString, response_serializer=None
    )
    name = api_pb2.DESCRIPTOR.services_by_name["Api"].full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, handlers),))
    server.add_registered_method_handlers(name, handlers)
