"""The components an actor can host, built from the plain config dicts `raykube up` plans.

Each factory returns an object with `async start() -> address` and `async stop()` (actor.Component).
Components find each other by actor name through Ray (`ray_resolver`), and from then on talk gRPC.
A component that binds all interfaces advertises the IP of the Ray node it runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from cluster.apiserver.auth import parse_token_file
from cluster.apiserver.etcd import Endpoints
from cluster.apiserver.server import ApiServer
from cluster.bootstrap.actor import NAMESPACE, Component
from cluster.client.api import ApiClient, Resolver
from cluster.scheduler import Scheduler
from cluster.store.server import StoreNode, StoreOptions, start_store_node

ANY_ADDRESS = ("0.0.0.0", "::", "")


def advertised(host: str) -> str:
    """The address others should dial for a server bound to `host`."""
    return ray.util.get_node_ip_address() if host in ANY_ADDRESS else host


def ray_resolver(actor_name: str, *, timeout: float = 120.0) -> Resolver:
    """Finds a component's gRPC address through Ray, waiting while it (re)starts."""

    async def resolve() -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                actor = ray.get_actor(actor_name, namespace=NAMESPACE)
                address: str = await actor.address.remote()
                return address
            except (ValueError, ray.exceptions.RayActorError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    return resolve


def ray_endpoints(actor_names: list[str], *, timeout: float = 120.0, each: float = 1.0) -> Endpoints:
    """Finds the gRPC addresses of several components (the store's replicas) through Ray: those
    that answer within `each` seconds; waits while none does (they may all be restarting)."""

    async def address(name: str) -> str | None:
        try:
            found: str = await asyncio.wait_for(
                ray.get_actor(name, namespace=NAMESPACE).address.remote(), each
            )
        except (ValueError, TimeoutError, ray.exceptions.RayError):
            return None
        return found

    async def resolve() -> list[str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [a for a in await asyncio.gather(*(address(n) for n in actor_names)) if a]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.5)

    return resolve


class StoreComponent:
    """One replica of the store: its Raft peers are the other replicas, at the addresses `up` planned."""

    def __init__(self, config: dict[str, Any]):
        self._config = config
        self._node: StoreNode | None = None

    async def start(self) -> str:
        config = self._config
        host = config["host"]
        options = StoreOptions(
            name=config["name"], peers=config["peers"], peer_listen=f"{host}:{config['peer_port']}"
        )
        self._node = await start_store_node(Path(config["data_dir"]), host, config["port"], options)
        return f"{advertised(host)}:{self._node.address[1]}"

    async def stop(self) -> None:
        if self._node is not None:
            await self._node.stop()


class ApiServerComponent:
    def __init__(self, config: dict[str, Any]):
        self._server = ApiServer(
            ray_endpoints(config["store"]),
            parse_token_file(config["tokens"]),
            host=config["host"],
            port=config["port"],
            advertise_host=advertised(config["host"]),
            kubelet_token=config["kubelet_token"],
        )

    async def start(self) -> str:
        return await self._server.start()

    async def stop(self) -> None:
        await self._server.stop()


class BackgroundComponent:
    """A component that serves nothing: it runs a coroutine with its API client until stopped."""

    def __init__(self, run: Callable[[], Any], client: ApiClient):
        self._run = run
        self._client = client
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self._task = asyncio.create_task(self._run())
        return ""

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.close()


def scheduler(config: dict[str, Any]) -> Component:
    client = ApiClient(ray_resolver(config["apiserver"]), config["token"])
    return BackgroundComponent(lambda: Scheduler(client).run(), client)


class KubeletComponent:
    """The kubelet of one host, with the Podman API service it drives (started here, stopped here)."""

    def __init__(self, config: dict[str, Any]):
        from agents.kubelet.kubelet import Kubelet
        from agents.kubelet.podman_service import PodmanService

        host = config["host"]
        self._advertise = advertised(host)
        self._podman = PodmanService(Path(config["run_dir"]) / "podman.sock")
        self._client = ApiClient(ray_resolver(config["apiserver"]), config["token"])
        self.kubelet = Kubelet(
            config["node_name"],
            self._client,
            str(self._podman.socket_path),
            f"{host}:{config['port']}",
            node_ip=self._advertise,
            api_token=config["kubelet_token"],
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self._podman.socket_path.parent.mkdir(parents=True, exist_ok=True)
        await self._podman.start()
        self._task = asyncio.create_task(self.kubelet.run(), name="kubelet")
        ready = asyncio.create_task(self.kubelet.ready.wait())
        await asyncio.wait([self._task, ready], return_when=asyncio.FIRST_COMPLETED)
        if self._task.done():  # run() ended before the kubelet was ready: report why
            ready.cancel()
            self._task.result()
            raise RuntimeError("the kubelet stopped before it was ready")
        return f"{self._advertise}:{self.kubelet.port}"

    async def shutdown(self, remove_pods: bool) -> None:
        """`raykube down`: stop the kubelet, optionally remove every container of this node."""
        await self.kubelet.shutdown(remove_pods)
        await self._podman.stop()
        await self._client.close()

    async def stop(self) -> None:
        await self.shutdown(remove_pods=False)


def hollow_nodes(config: dict[str, Any]) -> Component:
    """Benchmark-only: `count` hollow nodes named `<prefix>-<i>` (agents/hollownode)."""
    from agents.hollownode.hollow import HollowNodes

    client = ApiClient(ray_resolver(config["apiserver"]), config["token"])
    names = [f"{config['prefix']}-{i}" for i in range(config["count"])]
    return BackgroundComponent(lambda: HollowNodes(client, names, config["capacity"]).run(), client)


FACTORIES: dict[str, Callable[[dict[str, Any]], Component]] = {
    "store": StoreComponent,
    "apiserver": ApiServerComponent,
    "scheduler": scheduler,
    "kubelet": KubeletComponent,
    "hollow-nodes": hollow_nodes,
}


def build(kind: str, config: dict[str, Any]) -> Component:
    try:
        factory = FACTORIES[kind]
    except KeyError:
        raise ValueError(f"unknown component kind {kind!r} (known: {', '.join(sorted(FACTORIES))})") from None
    return factory(config)
