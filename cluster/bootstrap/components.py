"""The components an actor can host, built from their typed settings (settings.py).

A component is one coroutine, `run(ready)`: it starts serving, calls `ready(address)` once it
does (the scheduler, controller manager and proxy serve only gRPC health, on loopback), and then
runs its long-running work until it is cancelled (the host stopping it) or fails (it raises; the
host exits for Ray to restart it). Whatever it started it stops itself on the way out, in
`finally`. Components know nothing of the actor around them; they find each other by actor name
through Ray (discovery.py) and from then on talk gRPC.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

from cluster.apiserver.allocation import ServiceNetwork
from cluster.apiserver.auth import parse_token_file
from cluster.apiserver.server import ApiServer
from cluster.bootstrap.credentials import KUBELET_CLIENT_USER
from cluster.bootstrap.discovery import advertised, ray_endpoints, ray_resolver
from cluster.bootstrap.settings import (
    ApiServerSettings,
    ControllerManagerSettings,
    HollowNodesSettings,
    KubeletSettings,
    ProxySettings,
    SchedulerSettings,
    Settings,
    StoreSettings,
)
from cluster.client.api import ApiClient
from cluster.client.events import EventRecorder
from cluster.client.leaderelection import LeaderElectionConfig, LeaderElector
from cluster.controllers.manager import ControllerManager, ControllerManagerConfig
from cluster.controllers.nodelifecycle.controller import NodeLifecycleConfig
from cluster.scheduler import Scheduler
from cluster.serving import health_only
from cluster.store.server import StoreOptions, start_store_node
from cluster.supervision import run_forever

Ready = Callable[[str], None]
ApiClientSettings = (
    SchedulerSettings | ControllerManagerSettings | KubeletSettings | ProxySettings | HollowNodesSettings
)


def _api_client(settings: ApiClientSettings) -> ApiClient:
    """A client of the cluster's API servers, found through Ray: the nearest first, the next one
    after a failure; a call that finds its server unavailable is tried on each."""
    return ApiClient(ray_resolver(settings.apiservers), tls=settings.tls, tries=len(settings.apiservers))


class Component(Protocol):
    async def run(self, ready: Ready) -> None:
        """Serve, call `ready(address)`, then work until cancelled; raise why if it fails."""
        ...


@runtime_checkable
class Drains(Protocol):
    """A component that can remove, when it stops, what would outlive it (the kubelet: containers)."""

    def drain(self) -> None:
        """Remove what would outlive the component when it stops (called before it is stopped)."""
        ...


class StoreComponent:
    def __init__(self, settings: StoreSettings):
        self._settings = settings

    async def run(self, ready: Ready) -> None:
        s = self._settings
        options = StoreOptions(
            name=s.name, peers=dict(s.peers), peer_listen=f"{s.host}:{s.peer_port}", tls=s.tls,
            initial_cluster_state=s.initial_cluster_state,
        )  # fmt: skip
        node = await start_store_node(Path(s.data_dir), s.host, s.port, options)
        try:
            ready(f"{advertised(s.host)}:{node.address[1]}")
            await node.wait()
        finally:
            await node.stop()


class ApiServerComponent:
    def __init__(self, settings: ApiServerSettings):
        self._server = ApiServer(
            ray_endpoints(list(settings.store)),
            parse_token_file(settings.tokens),
            host=settings.host,
            port=settings.grpc_port,
            rest_port=settings.port,
            advertise_host=advertised(settings.host),
            peer_hosts=settings.peer_hosts,
            tls=settings.tls,
            kubelet_tls=settings.kubelet_tls,
            store_tls=settings.tls,
            service_account_key=settings.service_account_key,
            network=ServiceNetwork(ipaddress.IPv4Network(settings.service_cidr)),
        )

    async def run(self, ready: Ready) -> None:
        try:
            ready(await self._server.start())
            await self._server.wait()
        finally:
            await self._server.stop()

    def extra_info(self) -> dict[str, str]:
        """Where kubectl finds the API: the HTTPS REST side."""
        return {"rest_address": self._server.rest_address}


class _LeaderElected:
    """A component of which one replica works at a time: the holder of the Lease `lease_name`.
    The others wait; a leader that loses its Lease fails (its host restarts it as a standby)."""

    lease_name = ""

    def __init__(self, settings: SchedulerSettings | ControllerManagerSettings):
        self._tls = settings.tls
        self._client = _api_client(settings)
        self._host = socket.gethostname()
        self.elector = LeaderElector(
            self._client, LeaderElectionConfig(self.lease_name, identity=f"{self._host}_{os.getpid()}")
        )

    async def run(self, ready: Ready) -> None:
        try:
            async with health_only(self._tls) as address:
                ready(address)  # standbys are healthy too: they are ready to take over
                await self.elector.run(self.lead)
        finally:
            await self._client.close()

    async def lead(self) -> None:
        raise NotImplementedError


class SchedulerComponent(_LeaderElected):
    lease_name = "kube-scheduler"

    async def lead(self) -> None:
        events = EventRecorder(self._client, "default-scheduler", self._host)
        await Scheduler(self._client, events=events, leading=self.elector.valid).run()


class ControllerManagerComponent(_LeaderElected):
    lease_name = "kube-controller-manager"

    def __init__(self, settings: ControllerManagerSettings):
        super().__init__(settings)
        lifecycle = NodeLifecycleConfig(grace_period=settings.node_monitor_grace_period)
        self._config = ControllerManagerConfig(node_lifecycle=lifecycle)

    async def lead(self) -> None:
        await ControllerManager(self._client, self._config, host=self._host).run()


class KubeletComponent:
    """The kubelet of one host, with the Podman API service it drives (started here, stopped here)."""

    def __init__(self, settings: KubeletSettings):
        from agents.kubelet.kubelet import Kubelet
        from agents.kubelet.podman_service import PodmanService
        from agents.kubelet.runtime_config import ClusterDns

        self._advertise = advertised(settings.host)
        self._podman = PodmanService(Path(settings.run_dir) / "podman.sock")
        self._client = _api_client(settings)
        dns = ClusterDns(settings.cluster_dns, settings.cluster_domain) if settings.cluster_dns else None
        self.kubelet = Kubelet(
            settings.node_name,
            self._client,
            str(self._podman.socket_path),
            f"{settings.host}:{settings.port}",
            node_ip=self._advertise,
            tls=settings.tls,
            api_caller=KUBELET_CLIENT_USER,
            state_dir=Path(settings.run_dir),
            dns=dns,
        )
        self._remove_pods = False

    async def run(self, ready: Ready) -> None:
        self._podman.socket_path.parent.mkdir(parents=True, exist_ok=True)
        await self._podman.start()
        try:
            async with asyncio.TaskGroup() as tasks:
                run_forever(tasks, "kubelet", self.kubelet.run())
                await self.kubelet.ready.wait()  # if run() fails first, the group raises why
                ready(f"{self._advertise}:{self.kubelet.port}")
        finally:
            await self.kubelet.shutdown(remove_pods=self._remove_pods)
            await self._podman.stop()
            await self._client.close()

    def drain(self) -> None:
        """`raykube down`: remove every container of this node when the kubelet stops.

        (Stopped without draining, it leaves its pods running for the next kubelet to adopt.)"""
        self._remove_pods = True


class ProxyComponent:
    """The service proxy of one host (nftables rules, DNS responder); draining removes its table."""

    def __init__(self, settings: ProxySettings):
        from agents.proxy.proxy import ProxyConfig

        self._settings = settings
        self._client = _api_client(settings)
        self._config = ProxyConfig(
            dns_ip=settings.dns_ip, dns_port=settings.dns_port, domain=settings.cluster_domain
        )
        self._remove_rules = False

    async def run(self, ready: Ready) -> None:
        from agents.proxy.nft import Nftables
        from agents.proxy.proxy import Proxy

        proxy = Proxy(self._client, Nftables(), self._config)
        try:
            async with health_only(self._settings.tls) as address, asyncio.TaskGroup() as tasks:
                run_forever(tasks, "proxy", proxy.run())  # the group waits on it; health serves till then
                ready(address)
        finally:
            if self._remove_rules:
                await proxy.remove()
            await self._client.close()

    def drain(self) -> None:
        """`raykube down`: remove this host's Service rules when the proxy stops."""
        self._remove_rules = True


class HollowNodesComponent:
    """Benchmark-only: `count` hollow nodes named `<prefix>-<i>` (agents/hollownode)."""

    def __init__(self, settings: HollowNodesSettings):
        self._settings = settings
        self._client = _api_client(settings)

    async def run(self, ready: Ready) -> None:
        from agents.hollownode.hollow import HollowNodes, NodeShape

        s = self._settings
        names = [f"{s.prefix}-{i}" for i in range(s.count)]
        shape = NodeShape(dict(s.capacity), dict(s.labels), s.zones, s.taints)
        try:
            ready("")
            await HollowNodes(
                self._client, names, shape, run_pods=s.run_pods, lease_period=s.lease_period
            ).run()
        finally:
            await self._client.close()


def build(settings: Settings) -> Component:
    """The component for `settings` (its kind is the settings' type)."""
    match settings:
        case StoreSettings():
            return StoreComponent(settings)
        case ApiServerSettings():
            return ApiServerComponent(settings)
        case SchedulerSettings():
            return SchedulerComponent(settings)
        case ControllerManagerSettings():
            return ControllerManagerComponent(settings)
        case KubeletSettings():
            return KubeletComponent(settings)
        case ProxySettings():
            return ProxyComponent(settings)
        case HollowNodesSettings():
            return HollowNodesComponent(settings)
