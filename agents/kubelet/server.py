"""The kubelet's gRPC service (`raykube.v1.Kubelet`): container logs, proxied by the API server.

The API server has already authorized the user and resolved the pod; it calls with the pod's uid
and a container name. In a cluster the service is served over TLS requiring a client certificate
of the cluster CA, and only `caller` (the API server's kubelet-client identity) is served;
in-process tests use a bearer token instead. Instances are found by labels in the runtime: the
newest instance of the container, or with `previous` the one before it (kept by sync_pod for
exactly this). Logs stream as the runtime produces them; with `follow` until the container stops
or the caller goes away (cancelling the stream closes the runtime's log request).

Errors are `cluster.errors` ApiErrors sent with their gRPC codes (NotFound: no such container on
this node; BadRequest: ambiguous container or no previous instance; Unavailable: runtime down).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Sequence

import grpc

from agents.kubelet.plan import newest_first
from agents.kubelet.runtime import ContainerInfo, Runtime, RuntimeFailure
from cluster.errors import ApiError, BadRequest, NotFound, Unauthorized, Unavailable, abort
from cluster.serving import Health, listen, service_names
from cluster.tls import Tls
from raykube.v1 import api_pb2, kubelet_pb2, kubelet_pb2_grpc


def choose_instance(instances: Sequence[ContainerInfo], container: str, previous: bool) -> ContainerInfo:
    """The container instance whose logs are asked for (pure)."""
    names = sorted({c.name for c in instances})
    if not names:
        raise NotFound("pod has no containers on this node")
    if not container:
        if len(names) > 1:
            raise BadRequest(f"a container name must be specified, choose one of: [{' '.join(names)}]")
        container = names[0]
    history = newest_first(c for c in instances if c.name == container)
    if not history:
        raise NotFound(f'container "{container}" not found on this node')
    if previous:
        if len(history) < 2:
            raise BadRequest(f'previous terminated container "{container}" not found')
        return history[1]
    return history[0]


class KubeletService(kubelet_pb2_grpc.KubeletServicer):
    def __init__(self, runtime: Runtime, token: str = "", *, caller: str = ""):
        self._runtime = runtime
        self._token = token
        self._caller = caller

    def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        if self._caller:
            names = context.auth_context().get("x509_common_name") or []
            if [n.decode() if isinstance(n, bytes) else n for n in names] != [self._caller]:
                raise Unauthorized("the kubelet only serves the API server")
        if self._token:
            presented = dict(context.invocation_metadata() or ()).get("authorization", "")
            if not hmac.compare_digest(str(presented), f"Bearer {self._token}"):
                raise Unauthorized("the kubelet only serves the API server")

    async def Logs(
        self, request: kubelet_pb2.KubeletLogsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[api_pb2.LogsResponse]:
        try:
            self._authenticate(context)
            try:
                instances = (await self._runtime.list_pods(request.pod_uid)).containers
            except RuntimeFailure as err:
                raise Unavailable(f"container runtime: {err}") from err
            chosen = choose_instance(instances, request.container, request.previous)
        except ApiError as err:
            await abort(context, err)
        tail = request.tail_lines if request.tail_lines > 0 else None
        try:
            async for chunk in self._runtime.logs(chosen.id, tail=tail, follow=request.follow):
                yield api_pb2.LogsResponse(data=chunk)
        except RuntimeFailure as err:
            await abort(context, Unavailable(f"container runtime: {err}"))


async def start_server(
    service: KubeletService, address: str, tls: Tls | None = None
) -> tuple[grpc.aio.Server, int]:
    """Serve `service` on `address` ("host:port", port 0 picks one), over TLS with client
    certificates if `tls` is given; the server and its port."""
    server = grpc.aio.server()
    kubelet_pb2_grpc.add_KubeletServicer_to_server(service, server)
    health = await Health.install(server, service_names(kubelet_pb2.DESCRIPTOR))
    port = listen(server, address, tls)
    await server.start()
    await health.serving()
    return server, port
