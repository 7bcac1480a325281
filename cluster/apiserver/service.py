"""The API server's gRPC service: every call is authenticated, authorized, then handed to the registry.

Handlers are thin: they translate the request into (verb, resource, namespace, name) for
authorization, call the registry, and wrap the result. Every ApiError becomes a gRPC status with
the Kubernetes Status in trailing metadata (cluster/errors.py); anything else is a bug and
surfaces as UNKNOWN with a logged traceback (no catch-all hides it).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from cluster.api import resources
from cluster.apiserver.auth import Authorizer, Request, TokenAuthenticator, UserInfo
from cluster.apiserver.registry import Registry
from cluster.errors import ApiError, BadRequest, Unavailable, abort, from_rpc_error
from raykube.v1 import api_pb2, api_pb2_grpc, kubelet_pb2, kubelet_pb2_grpc, meta_pb2, node_pb2, pod_pb2

log = logging.getLogger(__name__)
Req = TypeVar("Req")
Resp = TypeVar("Resp")
DEFAULT_NAMESPACE = "default"


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


def _namespace(resource: resources.Resource, namespace: str) -> str:
    """The namespace a single-object request acts in: 'default' if unset, none if cluster-scoped."""
    return (namespace or DEFAULT_NAMESPACE) if resource.namespaced else ""


class ApiService(api_pb2_grpc.ApiServicer):
    def __init__(
        self,
        registry: Registry,
        authenticator: TokenAuthenticator,
        authorizer: Authorizer,
        *,
        kubelet_token: str = "",
        bookmark_every: float = 5.0,
    ):
        self._registry = registry
        self._authn = authenticator
        self._authz = authorizer
        self._kubelet_token = kubelet_token
        self._bookmark_every = bookmark_every

    def _allow(
        self,
        context: grpc.aio.ServicerContext,
        verb: str,
        resource: str,
        *,
        subresource: str = "",
        namespace: str = "",
        name: str = "",
    ) -> UserInfo:
        user = self._authn.authenticate(context.invocation_metadata() or ())
        group = next((r.group for r in resources.ALL if r.name == resource), "")
        self._authz.authorize(Request(user, verb, resource, subresource, namespace, name, group))
        return user

    @unary
    async def Create(
        self, request: api_pb2.CreateRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.CreateResponse:
        resource, obj = resources.unwrap(request.object)
        if resource.namespaced:
            obj.metadata.namespace = obj.metadata.namespace or DEFAULT_NAMESPACE
        meta = obj.metadata
        self._allow(context, "create", resource.name, namespace=meta.namespace, name=meta.name)
        created = await self._registry.create(obj, dry_run=request.dry_run)
        return api_pb2.CreateResponse(object=resource.wrap(created))

    @unary
    async def Get(
        self, request: api_pb2.GetRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.GetResponse:
        resource = resources.by_name(request.ref.resource)
        namespace = _namespace(resource, request.ref.namespace)
        self._allow(context, "get", resource.name, namespace=namespace, name=request.ref.name)
        obj = await self._registry.get(resource, namespace, request.ref.name)
        return api_pb2.GetResponse(object=resource.wrap(obj))

    @unary
    async def List(
        self, request: api_pb2.ListRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.ListResponse:
        resource = resources.by_name(request.resource)
        namespace = request.namespace if resource.namespaced else ""
        self._allow(context, "list", resource.name, namespace=namespace)
        items, version = await self._registry.list_objects(
            resource, namespace, request.label_selector, request.field_selector
        )
        return api_pb2.ListResponse(
            items=[resource.wrap(o) for o in items], metadata=meta_pb2.ListMeta(resource_version=version)
        )

    async def _update(
        self, request: api_pb2.UpdateRequest, context: grpc.aio.ServicerContext, *, status: bool
    ) -> api_pb2.UpdateResponse:
        resource, obj = resources.unwrap(request.object)
        meta = obj.metadata
        meta.namespace = _namespace(resource, meta.namespace)
        self._allow(
            context,
            "update",
            resource.name,
            subresource="status" if status else "",
            namespace=meta.namespace,
            name=meta.name,
        )
        updated = await self._registry.update(obj, status=status)
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
        namespace = _namespace(resource, request.ref.namespace)
        self._allow(context, "delete", resource.name, namespace=namespace, name=request.ref.name)
        grace = request.grace_period_seconds if request.HasField("grace_period_seconds") else None
        obj, deleted = await self._registry.delete(
            resource,
            namespace,
            request.ref.name,
            grace_period_seconds=grace,
            uid=request.preconditions.uid,
            resource_version=request.preconditions.resource_version,
            propagation_policy=request.propagation_policy,
        )
        return api_pb2.DeleteResponse(object=resource.wrap(obj), deleted=deleted)

    @streaming
    async def Watch(
        self, request: api_pb2.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api_pb2.WatchEvent]:
        resource = resources.by_name(request.resource)
        namespace = request.namespace if resource.namespaced else ""
        self._allow(context, "watch", resource.name, namespace=namespace)
        events = self._registry.watch(
            resource,
            namespace,
            request.label_selector,
            request.field_selector,
            request.resource_version,
            self._bookmark_every if request.allow_bookmarks else None,
        )
        obj: Any
        async for kind, obj, revision in events:
            if obj is None:  # a bookmark: an empty object that carries only the resourceVersion
                obj = resource.message()
                obj.metadata.resource_version = str(revision)
            yield api_pb2.WatchEvent(type=kind, object=resource.wrap(obj))

    @unary
    async def Bind(
        self, request: api_pb2.BindRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.BindResponse:
        namespace = request.namespace or DEFAULT_NAMESPACE
        self._allow(context, "create", "pods", subresource="binding", namespace=namespace, name=request.name)
        pod = await self._registry.bind(
            namespace,
            request.name,
            request.node_name,
            uid=request.preconditions.uid,
            resource_version=request.preconditions.resource_version,
        )
        return api_pb2.BindResponse(object=resources.PODS.wrap(pod))

    @unary
    async def WhoAmI(
        self, request: api_pb2.WhoAmIRequest, context: grpc.aio.ServicerContext
    ) -> api_pb2.WhoAmIResponse:
        user = self._allow(context, "create", "selfsubjectreviews")
        return api_pb2.WhoAmIResponse(username=user.name, groups=sorted(user.groups))

    @streaming
    async def Logs(
        self, request: api_pb2.LogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api_pb2.LogsResponse]:
        namespace = request.namespace or DEFAULT_NAMESPACE
        self._allow(context, "get", "pods", subresource="log", namespace=namespace, name=request.name)
        pod: pod_pb2.Pod = await self._registry.get(resources.PODS, namespace, request.name)
        container = _log_container(pod, request.container)
        if not pod.spec.node_name:
            raise BadRequest(f"pod {request.name} does not have a host assigned")
        node: node_pb2.Node = await self._registry.get(resources.NODES, "", pod.spec.node_name)
        target = kubelet_address(node)
        async with grpc.aio.insecure_channel(target) as channel:
            call = kubelet_pb2_grpc.KubeletStub(channel).Logs(
                kubelet_pb2.KubeletLogsRequest(
                    pod_uid=pod.metadata.uid,
                    container=container,
                    follow=request.follow,
                    tail_lines=request.tail_lines,
                    previous=request.previous,
                ),
                metadata=(("authorization", f"Bearer {self._kubelet_token}"),),
            )
            try:
                async for chunk in call:
                    yield chunk
            except grpc.aio.AioRpcError as err:
                raise from_rpc_error(err) from None


def _log_container(pod: pod_pb2.Pod, requested: str) -> str:
    """The container whose logs are wanted: the named one, or the only one (kubectl's rule)."""
    names = [c.name for c in pod.spec.containers]
    if not requested:
        if len(names) == 1:
            return names[0]
        choices = " ".join(names)
        raise BadRequest(
            f"a container name must be specified for pod {pod.metadata.name}, choose one of: [{choices}]"
        )
    if requested not in names:
        raise BadRequest(f"container {requested} is not valid for pod {pod.metadata.name}")
    return requested


def kubelet_address(node: node_pb2.Node) -> str:
    """host:port of a node's kubelet service, from its InternalIP and daemonEndpoints."""
    port = node.status.daemon_endpoints.kubelet_endpoint.port
    address = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")
    if not port or not address:
        raise Unavailable(f'node "{node.metadata.name}" has not reported its kubelet endpoint')
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
