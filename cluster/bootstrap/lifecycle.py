"""Bringing a cluster up and down: the steps of `raykube up`, `down`, `join` and `leave`.

up: start (or join) a Ray cluster, find its hosts, plan the components (placement.py), make sure
each planned actor exists with its settings (actors.py), wait for each to serve, and write the
client config. Running it again starts only what is missing or changed.

down: drains every kubelet and proxy (containers and Service rules go), kills the actors, stops
the local Ray head (if `up` started it) by its own PID and session, and removes what is left of
this cluster's containers and Service rules on this machine as a safety net. `purge` also deletes
the store's data.

State kept in RAYKUBE_HOME: kubeconfig (for kubectl and raykube's CLI), cluster.json (Ray
address, hosts, whether we own the Ray head), pki/ (the CA and every certificate), tokens.csv
(the API server's token file), data/ (store), run/ (sockets).
Nothing here prints: progress goes to a `report` callback, results are returned, and failures
raise `BootstrapError`; the CLI (cluster/cli/lifecycle.py) shows them.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import ray

from agents.kubelet.leftovers import remove_leftovers
from agents.proxy.nft import Nftables
from agents.proxy.ruleset import TABLE
from cluster.bootstrap import credentials
from cluster.bootstrap.actors import (
    Report,
    connect_ray,
    ensure_actor,
    get_actor,
    init_ray,
    retire_actors,
    stop_actors,
)
from cluster.bootstrap.discovery import HOST_RESOURCE_PREFIX, live_hosts
from cluster.bootstrap.placement import Ports, network_layout, plan, replica_moves, store_layout
from cluster.bootstrap.ray_node import (
    LOOPBACK_NODE_IP,
    RAY_TOKEN_FILE,
    STATE_FILE,
    LocalRayNode,
    MissingRayToken,
    cluster_ray_token,
    primary_ip,
    up_ray_token,
)
from cluster.bootstrap.replicas import MoveFailed, move_replica
from cluster.bootstrap.settings import ApiServerSettings
from cluster.client import config as client_config
from cluster.tls import Tls

RAY_LOGS = "/tmp/ray/session_latest/logs"


class BootstrapError(Exception):
    """The cluster could not be brought up; the message says why and where to look."""


@dataclass(frozen=True)
class Placed:
    """Where a component ended up, as its actor reports it."""

    name: str
    host: str
    address: str
    pid: int


@dataclass(frozen=True)
class UpResult:
    placed: list[Placed]
    servers: tuple[str, ...]  # the API servers' HTTPS URLs, as written to the kubeconfig
    kubeconfig: Path


def node_name(hostname: str) -> str:
    """A host name as a valid Node name (a lowercase DNS subdomain)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", hostname.lower()).strip("-.")
    return name or "node"


def up(
    home: Path,
    ports: Ports,
    report: Report,
    *,
    ray_address: str = "",
    ray_port: int = 6379,
    host_name: str = "",
    timeout: float = 180.0,
) -> UpResult:
    """Bring the cluster up, or bring it in line with its plan; `ray_address`: an existing Ray cluster."""
    head = LocalRayNode(home)
    owns_head = not ray_address
    loopback = owns_head and ports.loopback
    node_ip = LOOPBACK_NODE_IP if loopback else None
    try:
        token = up_ray_token(home, ray_address=ray_address, bind_loopback=ports.loopback)
    except MissingRayToken as err:
        raise BootstrapError(str(err)) from None
    address = ray_address or head.address()
    if address:
        report(f"Ray: using the cluster at {address}")
    else:
        report("Ray: starting a local head node" + (" (token authentication) ..." if token else " ..."))
        started = time.monotonic()
        address = head.start(
            port=ray_port, host_name=host_name or node_name(socket.gethostname()), loopback=loopback,
            token_file=token,
        )  # fmt: skip
        report(f"Ray: head node up at {address} ({time.monotonic() - started:.1f}s)")
    init_ray(address, node_ip, token)
    try:
        addresses = live_hosts()
        hosts = sorted(addresses)
        if not hosts:
            raise BootstrapError(f"no Ray node carries a '{HOST_RESOURCE_PREFIX}<name>' resource")
        tokens = credentials.ensure_tokens(home, hosts)
        network = network_layout(home, ports)
        ips = [*addresses.values(), primary_ip()]
        pki = credentials.ensure_pki(home, credentials.identities(hosts, ips, network.kubernetes_ip))
        _spread_store(home, addresses, ports, pki.tls("store"), report)
        specs = plan(home, addresses, tokens, pki, ports)
        state = {"ray_address": address, "owns_head": owns_head, "node_ip": node_ip, "hosts": hosts,
                 "ray_token": str(token) if token else None}  # fmt: skip
        credentials.write_private(home / STATE_FILE, json.dumps(state, indent=2))
        retire_actors({spec.name for spec in specs}, report)
        actors = {spec.name: ensure_actor(spec, report) for spec in specs}
        placed, rest, grpc = [], [], []
        for spec in specs:
            report(f"  waiting for {spec.name} on {spec.host} ...")
            try:
                info = ray.get(actors[spec.name].info.remote(), timeout=timeout)
            except ray.exceptions.GetTimeoutError:
                raise BootstrapError(
                    f"{spec.name} did not start within {timeout:.0f}s (Ray's logs: {RAY_LOGS})"
                ) from None
            except ray.exceptions.RayError as err:
                cause = str(err).strip().splitlines()[-1]
                raise BootstrapError(
                    f"{spec.name} failed to start: {cause} (Ray's logs: {RAY_LOGS})"
                ) from None
            placed.append(Placed(spec.name, spec.host, info["address"], info["pid"]))
            if isinstance(spec.settings, ApiServerSettings):
                rest.append(f"https://{info['rest_address']}")
                grpc.append(info["address"])
        config = client_config.ClientConfig(servers=tuple(rest), grpc=tuple(grpc), tls=pki.tls("admin"))
        kubeconfig = client_config.save(home, config)
    finally:
        ray.shutdown()
    return UpResult(placed, config.servers, kubeconfig)


def _spread_store(home: Path, addresses: dict[str, str], ports: Ports, tls: Tls, report: Report) -> None:
    """Move store replicas that share a host to hosts that joined since (replicas.py), if the
    store is running: its members are changed through it."""
    layout = store_layout(home, addresses, ports)
    moves = replica_moves(layout, addresses)
    if moves and any(get_actor(member.name) is None for member in layout):
        report("  the store is not running yet: its replicas spread over the hosts at the next `up`")
        return
    for member, host in moves:
        try:
            layout = move_replica(
                home, layout, member, host, addresses[host], ports.bind_address, tls, report
            )
        except (MoveFailed, ray.exceptions.RayError) as err:
            raise BootstrapError(f"moving {member.name} to {host} failed: {err}") from None


def join(home: Path, address: str, host_name: str = "", token_file: Path | None = None) -> str:
    """Start a Ray node on this machine that joins the cluster at `address` as one more host.

    The node carries `host:<name>`; running `raykube up` again on the first host places this
    host's kubelet. An address on loopback (127/8) means a single-machine cluster, as in tests;
    any other joins with the cluster's Ray token (`token_file`, or one already in `home`).
    Returns the host's name.
    """
    node = LocalRayNode(home)
    if node.pid() is not None:
        raise BootstrapError(f"this home ({home}) already runs a Ray node; `raykube leave` stops it")
    name = host_name or node_name(socket.gethostname())
    loopback = address.startswith("127.")
    if token_file is not None and not loopback:
        credentials.write_private(home / RAY_TOKEN_FILE, token_file.read_text().strip())
    try:
        token = cluster_ray_token(home, makes_head=False, loopback=loopback)
    except MissingRayToken as err:
        raise BootstrapError(str(err)) from None
    node.start(port=0, host_name=name, loopback=loopback, join=address, token_file=token)
    return name


def leave(home: Path) -> bool:
    """Stop the Ray node `raykube join` started here (the kubelet actor on it stops with it);
    False if there was none."""
    node = LocalRayNode(home)
    if node.pid() is None:
        return False
    node.stop()
    return True


def down(home: Path, report: Report, *, purge: bool = False) -> None:
    state_path = home / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    head = LocalRayNode(home)
    if connect_ray(home):
        try:
            stop_actors(report)
        finally:
            ray.shutdown()
    if head.pid() is not None:
        report("Ray: stopping the local head node ...")
        head.stop()
    remove_leftovers(state.get("hosts", []), report)
    if state.get("hosts") and Nftables().delete_table():
        report(f"  removed the Service rules left behind (nftables table {TABLE['name']})")
    client_config.kubeconfig_path(home).unlink(missing_ok=True)
    state_path.unlink(missing_ok=True)
    if purge:
        shutil.rmtree(home / "data", ignore_errors=True)
        (home / credentials.TOKENS_FILE).unlink(missing_ok=True)
        (home / RAY_TOKEN_FILE).unlink(missing_ok=True)
        shutil.rmtree(home / credentials.PKI_DIR, ignore_errors=True)
        report(f"Purged the store's data in {home / 'data'}, the certificates and the tokens.")
