"""How hosts and components find each other through Ray: the only thing Ray carries between them.

Hosts are the live Ray nodes with a `host:<name>` resource. Components are named, detached actors
in the `raykube` namespace; a component asks another for its gRPC address (`address()`), and from
then on they talk gRPC. Resolvers wait while the actor they look for is (re)starting, and pass
over one whose host is gone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import ray

from cluster.apiserver.etcd import Endpoints
from cluster.client.api import Resolver
from cluster.errors import Unavailable

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


async def _address(name: str, each: float) -> str | None:
    """The gRPC address of the actor `name` if it answers within `each` seconds (an actor whose
    host is gone never does: Ray keeps it waiting for a place to restart)."""
    try:
        found: str = await asyncio.wait_for(ray.get_actor(name, namespace=NAMESPACE).address.remote(), each)
    except (ValueError, TimeoutError, ray.exceptions.RayError):
        return None
    return found


def ray_resolver(actor_names: Sequence[str], *, timeout: float = 120.0, each: float = 1.0) -> Resolver:
    """Finds one of several interchangeable components (the API servers) through Ray: the first
    to answer, starting after the one found last time (a client resolves again when its server
    failed, so it moves on to the next), waiting while none answers."""
    start = 0

    async def resolve() -> str:
        nonlocal start
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for turn in range(len(actor_names)):
                i = (start + turn) % len(actor_names)
                found = await _address(actor_names[i], each)
                if found:
                    start = i + 1
                    return found
            if asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"none of {', '.join(actor_names)} answered within {timeout:.0f}s")
            await asyncio.sleep(0.5)

    return resolve


def ray_endpoints(actor_names: list[str], *, timeout: float = 120.0, each: float = 1.0) -> Endpoints:
    """Finds the gRPC addresses of several components (the store's replicas) through Ray: those
    that answer within `each` seconds; waits while none does (they may all be restarting)."""

    async def resolve() -> list[str]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = [a for a in await asyncio.gather(*(_address(n, each) for n in actor_names)) if a]
            if found or asyncio.get_running_loop().time() > deadline:
                return found
            await asyncio.sleep(0.5)

    return resolve
