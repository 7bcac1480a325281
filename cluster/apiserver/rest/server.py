"""The REST server: aiohttp serving Kubernetes' HTTP API over the same `Api` as the gRPC service.

aiohttp because it is a maintained asyncio HTTP server that streams responses (watches, logs
with follow) on the event loop the API server already runs, and serves TLS from an ssl context.
Every request is authenticated (client certificate or bearer token; kubectl --as impersonates,
for callers allowed to) except /healthz, /livez, /readyz and /version;
request bodies are limited (413 past `max_body`, as kube-apiserver's 3 MiB) and short requests in
flight too (429 with Retry-After past `max_in_flight`, as its max-in-flight filter; watches and
followed logs do not count). ApiErrors become metav1.Status JSON with their HTTP code; anything
else is a bug: logged with its traceback and answered 500.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Awaitable, Callable

from aiohttp import web

from cluster.apiserver.api import Api
from cluster.apiserver.auth import Authenticator, UserInfo
from cluster.apiserver.rest import discovery, negotiation, openapi, paths
from cluster.apiserver.rest.handlers import Handlers
from cluster.apiserver.rest.responses import error_response, respond
from cluster.errors import ApiError, InternalError, NotFound, RequestEntityTooLarge

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY = 3 * 1024 * 1024
PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
REVIEW_PATHS = {f"/apis/{r.group}/{r.version}/{r.name}": r.kind for r in discovery.REVIEWS}


class RestServer:
    def __init__(
        self, api: Api, authenticator: Authenticator, *, bookmark_every: float = 5.0,
        max_body: int = MAX_BODY, max_in_flight: int = 400,
    ):  # fmt: skip
        self._api = api
        self._authn = authenticator
        self._handlers = Handlers(api, bookmark_every=bookmark_every)
        self._max_body = max_body
        self._max_in_flight = max_in_flight
        self._in_flight = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body, middlewares=[self._errors, self._limit])
        app.router.add_route("*", "/{path:.*}", self._dispatch)
        return app

    async def start(self, host: str, port: int, ssl_context: ssl.SSLContext | None = None) -> int:
        """Serve on host:port (0: a free port); the port it serves on."""
        self._runner = web.AppRunner(
            self.application(), access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return error_response(err)
        except web.HTTPRequestEntityTooLarge:
            return error_response(
                RequestEntityTooLarge(f"Request entity too large: limit is {self._max_body}")
            )
        except web.HTTPException:
            raise
        except Exception as err:
            log.exception("REST %s %s failed", request.method, request.path)
            return error_response(InternalError(f"Internal error occurred: {err}"))

    @web.middleware
    async def _limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        long_running = request.query.get("watch") in ("true", "1") or request.query.get("follow") in (
            "true",
            "1",
        )
        if long_running:
            return await handler(request)
        if self._in_flight >= self._max_in_flight:
            return web.Response(status=429, text="Too many requests, please try again later.\n",
                                headers={"Retry-After": "1"})  # fmt: skip
        self._in_flight += 1
        try:
            return await handler(request)
        finally:
            self._in_flight -= 1

    def _authenticate(self, request: web.Request) -> UserInfo:
        tls = request.transport.get_extra_info("ssl_object") if request.transport is not None else None
        certificate = tls.getpeercert(binary_form=True) if tls is not None else None
        user = self._authn.authenticate(
            authorization=request.headers.get("Authorization"), certificate=certificate
        )
        impersonated = request.headers.get("Impersonate-User")
        if impersonated is None:
            return user
        return self._api.impersonate(user, impersonated, request.headers.getall("Impersonate-Group", []))

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        if path in PUBLIC:
            return self._public(path)
        user = self._authenticate(request)
        if path in REVIEW_PATHS and request.method == "POST":
            return await self._handlers.review(request, user, REVIEW_PATHS[path])
        if request.method == "GET" and not paths.is_resource_path(path):
            self._api.allow_path(user, "get", path)
            found = self._discovery(request, path)
            if found is not None:
                return found
        return await self._handlers.handle(request, user, paths.parse(path))

    def _public(self, path: str) -> web.StreamResponse:
        if path == "/version":
            return respond(discovery.VERSION)
        if path == "/readyz" and not all(c.ready.is_set() for c in self._api.registry.caches.values()):
            return web.Response(status=500, text="[-]informer-sync failed: watch caches not synced\n")
        return web.Response(text="ok")

    def _discovery(self, request: web.Request, path: str) -> web.StreamResponse | None:
        accept = request.headers.get("Accept", "")
        parts = [p for p in path.split("/") if p]
        if path in ("/api", "/apis"):
            version = negotiation.aggregated_discovery(accept)
            if version:
                body = discovery.aggregated(version, core=path == "/api")
                return web.Response(
                    body=json.dumps(body).encode(),
                    headers={"Content-Type": discovery.aggregated_content_type(version)},
                )
            return respond(
                discovery.api_versions(request.host) if path == "/api" else discovery.api_group_list()
            )
        if path == "/api/v1":
            return respond(discovery.resource_list("", "v1"))
        if parts and parts[0] == "apis" and len(parts) in (2, 3):
            document = (
                discovery.api_group(parts[1]) if len(parts) == 2 else discovery.resource_list(*parts[1:])
            )
            if document is None:
                raise NotFound(f"the server could not find the requested resource ({path})")
            return respond(document)
        if path == "/openapi/v2":
            return web.Response(body=openapi.v2_document(), headers={"Content-Type": openapi.V2_CONTENT_TYPE})
        if path == "/openapi/v3":
            return respond(openapi.v3_index())
        if path.startswith("/openapi/v3/"):
            document = openapi.V3_DOCUMENTS.get(path.removeprefix("/openapi/v3/"))
            if document is None:
                raise NotFound(f"the server could not find the requested resource ({path})")
            return respond(document)
        return None
