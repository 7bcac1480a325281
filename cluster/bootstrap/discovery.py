"""How hosts and components find each other through Ray: the only thing Ray carries between them.

Hosts are the live Ray nodes with a `host:<name>` resource. Components are named, detached actors
in the `raykube` namespace; a component asks another for its gRPC address (`address()`), and from
then on they talk gRPC. Resolvers wait while the actor they look for is (re)starting.
"""

from __future__ import annotations

import asyncio

import ray

from cluster.apiserver.etcd import Endpoints
from cluster.client.api import Resolver

NAMESPACE = "raykube"
HOST_RESOURCE_PREFIX = "host:"
ANY_ADDRESS = ("0.0.0.0", "::", "")


def live_hosts() -> dict[str, str]:
    """host name -> the IP its Ray node reports, for every live Ray node that carries `host:<name>`."""
    return {
        key.removeprefix(HOST_RESOURCE_PREFIX): node["NodeManagerAddress"]
        for node in ray.nodes()
        if node.get("Alive")
        for key in node.get("Resources", {})
        if key.startswith(HOST_RESOURCE_PREFIX)
    }


def advertised(host: str) -> str:
    """The address others should dial for a server bound to `host` (inside an actor)."""
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
