"""Start and stop an API server: the gRPC service, the REST server, the registry's background tasks.

Used in-process by tests and by the `apiserver` Ray actor alike; the actor's host awaits `wait()`,
so a watch cache that dies takes the actor down with it (and Ray restarts it). The store is reached through a
fixed list of member addresses or a coroutine that finds them (in a cluster: the store replicas,
through Ray).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

import grpc

from cluster.apiserver.allocation import ServiceNetwork
from cluster.apiserver.api import Api
from cluster.apiserver.auth import Authenticator, UserInfo
from cluster.apiserver.etcd import Endpoints, EtcdStorage
from cluster.apiserver.rbac.authorizer import RbacAuthorizer
from cluster.apiserver.registry import Registry
from cluster.apiserver.rest.server import RestServer
from cluster.apiserver.service import ApiService, add_to_server
from cluster.apiserver.serviceaccounts import ServiceAccountTokens, new_signing_key
from cluster.apiserver.system import ensure_system_objects
from cluster.client.api import CHANNEL_OPTIONS
from cluster.errors import Unavailable
from cluster.serving import Health, listen, service_names
from cluster.tls import Tls, server_context
from raykube.v1 import api_pb2

log = logging.getLogger(__name__)


class ApiServer:
    """One API server instance; `start()` returns the address it serves on."""

    def __init__(
        self,
        store: str | Sequence[str] | Endpoints,
        tokens: Mapping[str, UserInfo],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        advertise_host: str = "",
        peer_hosts: Sequence[str] = (),
        kubelet_token: str = "",
        compact_every: float = 300.0,
        bookmark_every: float = 5.0,
        watch_cache_size: int = 10_000,
        network: ServiceNetwork | None = None,
        rest_port: int | None = None,
        tls: Tls | None = None,
        kubelet_tls: Tls | None = None,
        store_tls: Tls | None = None,
        service_account_key: str = "",
    ):
        self._storage = EtcdStorage(store, tls=store_tls)
        self.registry = Registry(
            self._storage, compact_every=compact_every, network=network, watch_cache_size=watch_cache_size
        )
        authorizer = RbacAuthorizer(self.registry.caches)
        accounts = ServiceAccountTokens(service_account_key or new_signing_key(), self.registry.caches)
        self.api = Api(
            self.registry, authorizer, accounts, kubelet_token=kubelet_token, kubelet_tls=kubelet_tls
        )
        authenticator = Authenticator(tokens, accounts)
        self._service = ApiService(self.api, authenticator, bookmark_every=bookmark_every)
        self.rest = RestServer(self.api, authenticator, bookmark_every=bookmark_every)
        self._rest_port = rest_port
        self._tls = tls
        self._host = host
        self._bind = f"{host}:{port}"
        self._advertise = advertise_host or host
        self._peer_hosts = tuple(peer_hosts)  # every API server's host, for the `kubernetes` Service
        self._server: grpc.aio.Server | None = None
        self._health: Health
        self._background: asyncio.Task[None] | None = None
        self.address = ""
        self.rest_address = ""  # host:port of the REST side, if it serves one (`rest_port` given)

    async def start(self) -> str:
        server = grpc.aio.server(options=CHANNEL_OPTIONS)
        add_to_server(self._service, server)
        self._health = await Health.install(server, service_names(api_pb2.DESCRIPTOR))
        port = listen(server, self._bind, self._tls)  # with TLS, every caller presents a CA-signed cert
        await server.start()
        self._server = server
        self._background = asyncio.create_task(self.registry.run(), name="apiserver-registry")
        self.address = f"{self._advertise}:{port}"
        if self._rest_port is not None:
            context = server_context(self._tls) if self._tls is not None else None
            rest_port = await self.rest.start(self._host, self._rest_port, context)
            self.rest_address = f"{self._advertise}:{rest_port}"
        await self._bootstrap()
        await self._health.serving()
        log.info("API server serving on %s", self.address)
        return self.address

    async def _bootstrap(self) -> None:
        """The system namespaces and Services exist before the server says it is ready (retried
        while the store is out of reach, as it may be while a cluster starts)."""
        delay = 0.2
        while True:
            try:
                host, _, port = (self.rest_address or self.address).rpartition(":")  # kubernetes:443 is HTTPS
                await ensure_system_objects(self.registry, self._peer_hosts or (host,), int(port))
                return
            except Unavailable as err:
                if self._background is not None and self._background.done():
                    self._background.result()  # the registry failed: say why
                log.warning("creating the system namespaces: %s; retrying in %.1fs", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def wait(self) -> None:
        """Return when the background work (watch caches, compaction) ends, which it never should
        while serving; raise why it failed."""
        if self._background is None:
            raise RuntimeError("the API server was not started")
        await asyncio.shield(self._background)

    async def stop(self, grace: float = 1.0) -> None:
        await self.rest.stop()
        if self._server is not None:
            await self._health.stopping()
            await self._server.stop(grace)
        if self._background is not None:
            self._background.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._background
        await self._storage.close()
