"""`raykube up` and `raykube down`.

up: start (or join) a Ray cluster, find its hosts (Ray nodes carrying a `host:<name>` resource),
then make sure these detached, named actors exist in the `raykube` namespace, each pinned to a
host: `store-0`, `apiserver`, `scheduler` and one `kubelet-<host>` per host. It waits for each to
serve, writes the client config (API server address + admin token, mode 0600), and prints where
everything runs. Running it again starts only what is missing.

down: asks every kubelet to remove its containers, kills the actors, stops the local Ray head
(if `up` started it) by its own PID and session, and removes what is left of this cluster's
containers in the local Podman as a safety net. `--purge` also deletes the store's data.

State kept in RAYKUBE_HOME: config.json (client), cluster.json (Ray address, hosts, whether we
own the Ray head), tokens.csv (the API server's token file), data/ (store), run/ (sockets).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ray

from cluster.apiserver import auth
from cluster.bootstrap.actor import NAMESPACE, ComponentHost, config_digest
from cluster.bootstrap.ray_node import LOOPBACK_NODE_IP, STATE_FILE, LocalRayNode, apply_ray_env, free_port
from cluster.cli import config as client_config
from cluster.cli.printers import table

HOST_RESOURCE_PREFIX = "host:"
TOKENS_FILE = "tokens.csv"
KUBELET_CLIENT_USER = "system:apiserver-kubelet-client"
RAY_LOGS = "/tmp/ray/session_latest/logs"
STORE_REPLICAS = 3
STORE_PORT_STRIDES = (0, 20000, 30000)  # 2379, 22379, 32379: etcd's local three-member ports
STORE_LAYOUT_FILE = "store-layout.json"


@dataclass(frozen=True)
class ComponentSpec:
    name: str  # the actor's name
    kind: str  # which component (cluster/bootstrap/components.py)
    host: str  # the host it is pinned to
    config: dict[str, Any] = field(default_factory=dict)


def node_name(hostname: str) -> str:
    """A host name as a valid Node name (a lowercase DNS subdomain)."""
    name = re.sub(r"[^a-z0-9.-]+", "-", hostname.lower()).strip("-.")
    return name or "node"


def discover_hosts() -> list[str]:
    """Host names of the live Ray nodes that carry a `host:<name>` resource, sorted."""
    hosts = {
        key.removeprefix(HOST_RESOURCE_PREFIX)
        for node in ray.nodes()
        if node.get("Alive")
        for key in node.get("Resources", {})
        if key.startswith(HOST_RESOURCE_PREFIX)
    }
    return sorted(hosts)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def ensure_tokens(home: Path, hosts: list[str]) -> dict[str, auth.UserInfo]:
    """The token file, extended with a token for every identity the cluster needs (created once)."""
    path = home / TOKENS_FILE
    tokens = auth.parse_token_file(path.read_text()) if path.exists() else {}
    have = {user.name for user in tokens.values()}
    wanted = [
        auth.UserInfo("admin", "admin", frozenset({auth.ADMIN_GROUP})),
        auth.UserInfo(auth.SCHEDULER_USER, auth.SCHEDULER_USER),
        auth.UserInfo(KUBELET_CLIENT_USER, KUBELET_CLIENT_USER),
        *(auth.UserInfo(auth.NODE_USER_PREFIX + h, auth.NODE_USER_PREFIX + h, frozenset({auth.NODES_GROUP}))
          for h in hosts),
    ]  # fmt: skip
    for user in wanted:
        if user.name not in have:
            tokens[secrets.token_urlsafe(24)] = user
    _write_private(path, auth.format_token_file(tokens))
    return tokens


def token_of(tokens: dict[str, auth.UserInfo], user: str) -> str:
    return next(token for token, info in tokens.items() if info.name == user)


def host_ips() -> dict[str, str]:
    """Each live host's IP, as its Ray node reports it."""
    return {
        key.removeprefix(HOST_RESOURCE_PREFIX): node["NodeManagerAddress"]
        for node in ray.nodes()
        if node.get("Alive")
        for key in node.get("Resources", {})
        if key.startswith(HOST_RESOURCE_PREFIX)
    }


def store_layout(home: Path, args: argparse.Namespace, hosts: list[str]) -> list[dict[str, Any]]:
    """Where the store's replicas live and on which ports: decided once, then kept with the data.

    One replica per host when there are three hosts or more (else round robin over the hosts);
    client ports as etcd's own local three-member cluster (2379, 22379, 32379; peers one above),
    or free ports with --store-port 0. The layout is saved next to the replicas' data, because
    their Raft membership records these peer addresses: later `up`s (even after a `down`) reuse
    it, and replicas never move to a host where their data is not.
    """
    path = home / "data" / STORE_LAYOUT_FILE
    if path.exists():
        layout: list[dict[str, Any]] = json.loads(path.read_text())
        return layout
    ips = host_ips()
    layout = []
    for i in range(STORE_REPLICAS):
        host = hosts[i % len(hosts)]
        if args.store_port:
            client, peer = (
                args.store_port + STORE_PORT_STRIDES[i],
                args.store_port + STORE_PORT_STRIDES[i] + 1,
            )
        else:
            client, peer = free_port(), free_port()
        address = "127.0.0.1" if args.bind_address.startswith("127.") else ips[host]
        layout.append({"name": f"store-{i}", "host": host, "client_port": client, "peer_port": peer,
                       "peer_address": f"{address}:{peer}"})  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(layout, indent=2))
    return layout


def plan(
    home: Path, args: argparse.Namespace, hosts: list[str], tokens: dict[str, auth.UserInfo]
) -> list[ComponentSpec]:
    """Which actors the cluster needs and how each is configured."""
    first = hosts[0]
    bind = args.bind_address
    kubelet_client = token_of(tokens, KUBELET_CLIENT_USER)
    layout = store_layout(home, args, hosts)
    peers = {member["name"]: member["peer_address"] for member in layout}
    specs = [
        ComponentSpec(member["name"], "store", member["host"], {
            "name": member["name"], "data_dir": str(home / "data" / member["name"]), "host": bind,
            "port": member["client_port"], "peer_port": member["peer_port"], "peers": peers})
        for member in layout
    ]  # fmt: skip
    specs += [
        ComponentSpec("apiserver", "apiserver", first, {
            "store": list(peers), "tokens": auth.format_token_file(tokens), "kubelet_token": kubelet_client,
            "host": bind, "port": args.apiserver_port}),
        ComponentSpec("scheduler", "scheduler", first, {
            "apiserver": "apiserver", "token": token_of(tokens, auth.SCHEDULER_USER)}),
    ]  # fmt: skip
    for host in hosts:
        specs.append(ComponentSpec(f"kubelet-{host}", "kubelet", host, {
            "node_name": host, "apiserver": "apiserver",
            "token": token_of(tokens, auth.NODE_USER_PREFIX + host), "kubelet_token": kubelet_client,
            "host": bind, "port": args.kubelet_port, "run_dir": str(home / "run" / host)}))  # fmt: skip
    return specs


def ensure_actor(spec: ComponentSpec, out: IO[str] | None = None) -> Any:
    """The actor for `spec`, running with exactly its configuration (level-triggered, like a rollout).

    A missing actor is created; one running with another configuration (new tokens after a host
    joined, other ports) is replaced. Components keep nothing in memory that matters: the store's
    state is on disk, a kubelet adopts its containers, and clients find the new address through Ray.
    """
    wanted = config_digest(spec.kind, spec.config)
    try:
        actor = ray.get_actor(spec.name, namespace=NAMESPACE)
    except ValueError:
        actor = None
    if actor is not None:
        if ray.get(actor.digest.remote(), timeout=60) == wanted:
            return actor
        if out is not None:
            print(f"  {spec.name}: configuration changed; replacing it", file=out, flush=True)
        ray.kill(actor, no_restart=True)
        _wait_until_gone(spec.name)
    remote = ray.remote(ComponentHost)
    return remote.options(
        name=spec.name,
        namespace=NAMESPACE,
        lifetime="detached",
        max_restarts=-1,
        num_cpus=0,
        resources={HOST_RESOURCE_PREFIX + spec.host: 0.001},
    ).remote(spec.kind, spec.config)


def _wait_until_gone(name: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get_actor(name, namespace=NAMESPACE)
        except ValueError:
            return
        time.sleep(0.1)
    raise TimeoutError(f"actor {name} did not go away within {timeout:.0f}s")


def connect_ray(home: Path) -> bool:
    """Join, as a driver, the Ray cluster `raykube up` recorded in `home`; False if there is none."""
    state_path = home / STATE_FILE
    if not state_path.exists():
        return False
    state = json.loads(state_path.read_text())
    if state.get("owns_head") and LocalRayNode(home).address() is None:
        return False  # our head is gone: nothing to join
    _init_ray(state["ray_address"], state.get("node_ip"))
    return True


def _init_ray(address: str, node_ip: str | None) -> None:
    apply_ray_env()
    # On a loopback cluster the driver must say where it is, or Ray looks for it on the host's address.
    ray.init(address=address, namespace=NAMESPACE, logging_level=logging.WARNING, log_to_driver=False,
             _node_ip_address=node_ip)  # fmt: skip


def up(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    head = LocalRayNode(home)
    owns_head = not args.ray_address
    loopback = owns_head and args.bind_address.startswith("127.")
    node_ip = LOOPBACK_NODE_IP if loopback else None
    address = args.ray_address or head.address()
    if address:
        print(f"Ray: using the cluster at {address}", file=out)
    else:
        print("Ray: starting a local head node ...", file=out, flush=True)
        started = time.monotonic()
        address = head.start(
            port=args.ray_port, host_name=args.node_name or node_name(socket.gethostname()), loopback=loopback
        )
        print(f"Ray: head node up at {address} ({time.monotonic() - started:.1f}s)", file=out, flush=True)
    _init_ray(address, node_ip)
    try:
        hosts = discover_hosts()
        if not hosts:
            print(f"error: no Ray node carries a '{HOST_RESOURCE_PREFIX}<name>' resource", file=out)
            return 1
        tokens = ensure_tokens(home, hosts)
        specs = plan(home, args, hosts, tokens)
        _write_private(
            home / STATE_FILE,
            json.dumps(
                {"ray_address": address, "owns_head": owns_head, "node_ip": node_ip, "hosts": hosts},
                indent=2,
            ),
        )
        actors = {spec.name: ensure_actor(spec, out) for spec in specs}
        rows = [["COMPONENT", "HOST", "ADDRESS", "PID"]]
        for spec in specs:
            print(f"  waiting for {spec.name} on {spec.host} ...", file=out, flush=True)
            try:
                info = ray.get(actors[spec.name].info.remote(), timeout=args.timeout)
            except ray.exceptions.GetTimeoutError:
                print(
                    f"error: {spec.name} did not start within {args.timeout:.0f}s (Ray's logs: {RAY_LOGS})",
                    file=out,
                )
                return 1
            except ray.exceptions.RayError as err:
                cause = str(err).strip().splitlines()[-1]
                print(f"error: {spec.name} failed to start: {cause} (Ray's logs: {RAY_LOGS})", file=out)
                return 1
            rows.append([spec.name, spec.host, info["address"] or "-", str(info["pid"])])
        server = ray.get(actors["apiserver"].address.remote(), timeout=args.timeout)
        client_config.save(home, client_config.ClientConfig(server=server, token=token_of(tokens, "admin")))
    finally:
        ray.shutdown()
    print(table(rows), file=out)
    print(
        f"\nThe cluster is up. The API server is at {server}; `raykube get nodes` to look around.", file=out
    )
    return 0


def join(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    """Start a Ray node on this machine that joins the cluster at `args.address` as one more host.

    The node carries `host:<name>`; running `raykube up` again on the first host places this
    host's kubelet. An address on loopback (127/8) means a single-machine cluster, as in tests.
    """
    node = LocalRayNode(home)
    if node.pid() is not None:
        print(f"error: this home ({home}) already runs a Ray node; `raykube leave` stops it", file=out)
        return 1
    name = args.node_name or node_name(socket.gethostname())
    started = time.monotonic()
    node.start(port=0, host_name=name, loopback=args.address.startswith("127."), join=args.address)
    print(
        f"Ray: host {name} joined the cluster at {args.address} ({time.monotonic() - started:.1f}s)", file=out
    )
    print("Run `raykube up` on the first host to place this host's kubelet.", file=out)
    return 0


def leave(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    """Stop the Ray node `raykube join` started here (the kubelet actor on it stops with it)."""
    node = LocalRayNode(home)
    if node.pid() is None:
        print("No Ray node of raykube runs from this home.", file=out)
        return 0
    node.stop()
    print("This host left the cluster.", file=out)
    return 0


def down(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    state_path = home / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    head = LocalRayNode(home)
    if connect_ray(home):
        try:
            _stop_actors(out)
        finally:
            ray.shutdown()
    if head.pid() is not None:
        print("Ray: stopping the local head node ...", file=out, flush=True)
        head.stop()
    _remove_leftover_containers(state.get("hosts", []), out)
    client_config.config_path(home).unlink(missing_ok=True)
    state_path.unlink(missing_ok=True)
    if args.purge:
        shutil.rmtree(home / "data", ignore_errors=True)
        (home / TOKENS_FILE).unlink(missing_ok=True)
        print(f"Purged the store's data in {home / 'data'}.", file=out)
    print("The cluster is down.", file=out)
    return 0


def _stop_actors(out: IO[str]) -> None:
    """Ask each kubelet whose host is still up to remove its containers, then kill every actor."""
    names = [
        a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if a["namespace"] == NAMESPACE
    ]
    alive = set(discover_hosts())
    pending: dict[str, Any] = {}
    for name in names:
        if name.startswith("kubelet-"):
            if name.removeprefix("kubelet-") in alive:
                pending[name] = ray.get_actor(name, namespace=NAMESPACE).invoke.remote(
                    "shutdown", remove_pods=True
                )
            else:
                print(
                    f"  {name}: its host is gone; its containers are removed below if they are here", file=out
                )
    for name, ref in pending.items():
        try:
            ray.get(ref, timeout=120)
            print(f"  {name}: containers removed", file=out, flush=True)
        except (ray.exceptions.RayError, TimeoutError) as err:
            print(
                f"  {name}: shutdown failed ({type(err).__name__}); removing its containers directly",
                file=out,
            )
    for name in names:
        ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        print(f"  {name}: stopped", file=out, flush=True)


def _remove_leftover_containers(hosts: list[str], out: IO[str]) -> None:
    """Remove the Podman pods and containers labelled with this cluster's nodes, if any survived
    their kubelet (a host that was gone, a failed shutdown): pods first, which takes their infra
    containers along, then lone containers."""
    podman = shutil.which("podman")
    if podman is None or not hosts:
        return
    from agents.kubelet.podman_service import CONTAINERS_CONF  # the project's own containers.conf

    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}

    def run(*args: str) -> str:
        done = subprocess.run([podman, *args], capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            print(f"  warning: podman {' '.join(args[:2])} failed: {done.stderr.strip()}", file=out)
        return done.stdout

    for host in hosts:
        label = f"label=io.raykube.node={host}"
        for noun, listing, removal in (
            ("pod", ("pod", "ps"), ("pod", "rm")),
            ("container", ("ps", "-a"), ("rm",)),
        ):
            ids = run(*listing, "-q", "--filter", label).split()
            if ids:
                run(*removal, "-f", *ids)
                print(f"  removed {len(ids)} leftover {noun}(s) of node {host}", file=out)
