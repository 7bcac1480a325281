"""The cluster's actors in Ray: connect as a driver, make each planned actor exist, stop them all.

Every component is a named, detached actor in the `raykube` namespace, pinned to its host by a
sliver of the host's `host:<name>` resource and restarted by Ray whenever it dies.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from cluster.bootstrap.discovery import HOST_RESOURCE_PREFIX, NAMESPACE, live_hosts
from cluster.bootstrap.host import ComponentHost
from cluster.bootstrap.ray_node import STATE_FILE, LocalRayNode, apply_ray_env
from cluster.bootstrap.settings import ComponentSpec

log = logging.getLogger(__name__)
Report = Callable[[str], None]  # one line of progress for the person waiting
STOP_GRACE = 10.0  # seconds a component being replaced has to stop before its actor is killed


def init_ray(address: str, node_ip: str | None, token_file: Path | None = None) -> None:
    """Join the Ray cluster at `address` as a driver, in raykube's namespace (presenting the Ray
    token in `token_file`, for a cluster with token authentication)."""
    apply_ray_env(token_file)
    # On a loopback cluster the driver must say where it is, or Ray looks for it on the host's address.
    ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=False,
             _node_ip_address=node_ip)  # fmt: skip


def connect_ray(home: Path) -> bool:
    """Join, as a driver, the Ray cluster `raykube up` recorded in `home`; False if there is none."""
    state_path = home / STATE_FILE
    if not state_path.exists():
        return False
    state = json.loads(state_path.read_text())
    if state.get("owns_head") and LocalRayNode(home).address() is None:
        return False  # our head is gone: nothing to join
    token = state.get("ray_token")
    init_ray(state["ray_address"], state.get("node_ip"), Path(token) if token else None)
    return True


def get_actor(name: str) -> Any | None:
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def ensure_actor(spec: ComponentSpec, report: Report | None = None) -> Any:
    """The actor for `spec`, running with exactly its settings (level-triggered, like a rollout).

    A missing actor is created; one running with other settings (new tokens after a host joined,
    other ports) is replaced. Components keep nothing in memory that matters: the store's state
    is on disk, a kubelet adopts its containers, and clients find the new address through Ray.
    """
    wanted = spec.digest()
    actor = get_actor(spec.name)
    if actor is not None:
        if _digest(actor) == wanted:
            return actor
        if report is not None:
            report(f"  {spec.name}: configuration changed; replacing it")
        _end(actor)
        _wait_until_gone(spec.name)
    elif report is not None:
        report(f"  {spec.name}: starting on {spec.host}")
    return (
        ray.remote(ComponentHost)
        .options(
            name=spec.name,
            namespace=NAMESPACE,
            lifetime="detached",
            max_restarts=-1,
            num_cpus=0,
            resources={HOST_RESOURCE_PREFIX + spec.host: 0.001},
        )
        .remote(spec)
    )


def _end(actor: Any) -> None:
    """Stop the component, then its actor. Stopping first lets it leave as Kubernetes' components
    leave on SIGTERM: a scheduler or controller manager that leads releases its Lease, so a standby
    takes over at once rather than after the lease duration (15 s; killed outright, the leader of a
    replaced scheduler held every pod unscheduled that long). Killed anyway if it does not stop."""
    try:
        ray.get(actor.stop.remote(), timeout=STOP_GRACE)
    except (ray.exceptions.RayError, TimeoutError) as err:
        log.info("a component did not stop by itself (%s); killing its actor", type(err).__name__)
    ray.kill(actor, no_restart=True)


def _digest(actor: Any, timeout: float = 60.0) -> str:
    """The digest a running actor was started with; an actor Ray is restarting (its host just
    came back, or it crashed) is waited for rather than taken for a failure."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            digest: str = ray.get(actor.digest.remote(), timeout=timeout)
            return digest
        except ray.exceptions.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _wait_until_gone(name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while get_actor(name) is not None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"actor {name} did not go away within {timeout:.0f}s")
        time.sleep(0.1)


CONTROL_PLANE_KINDS = ("apiserver", "scheduler", "controller-manager")


def retire_actors(planned: set[str], report: Report) -> None:
    """Stop the control plane's actors the plan no longer has (an API server of an earlier
    layout would hold the ports its successor needs). Kubelets and proxies of hosts that are not
    up stay: Ray starts them again when their host returns."""
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"]
        if (
            entry["namespace"] == NAMESPACE
            and name not in planned
            and name.rstrip("-0123456789") in CONTROL_PLANE_KINDS
        ):
            _end(ray.get_actor(name, namespace=NAMESPACE))
            _wait_until_gone(name)
            report(f"  {name}: no longer in the plan; stopped")


def stop_actors(report: Report) -> None:
    """Drain each kubelet and proxy whose host is still up (containers and Service rules go), then
    kill every actor."""
    names = [
        a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == NAMESPACE
    ]
    alive = set(live_hosts())
    draining: dict[str, Any] = {}
    for name in names:
        kind, _, host = name.partition("-")
        if kind not in ("kubelet", "proxy"):
            continue
        if host in alive:
            draining[name] = ray.get_actor(name, namespace=NAMESPACE).stop.remote(drain=True)
        else:
            report(f"  {name}: its host is gone; what it left is removed below if it is here")
    for name, ref in draining.items():
        try:
            ray.get(ref, timeout=120)
            report(f"  {name}: {'containers' if name.startswith('kubelet-') else 'Service rules'} removed")
        except (ray.exceptions.RayError, TimeoutError) as err:
            report(f"  {name}: draining failed ({type(err).__name__}); removing its containers directly")
    for name in names:
        ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        report(f"  {name}: stopped")
