"""Where each component goes and how it is configured: the cluster's plan, as a list of ComponentSpecs.

Pure but for the store's layout, which is decided once and kept with the store's data.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from cluster.apiserver import auth
from cluster.apiserver.allocation import ServiceNetwork
from cluster.bootstrap import credentials
from cluster.bootstrap.ray_node import free_port, free_ports
from cluster.bootstrap.settings import (
    ApiServerSettings,
    ComponentSpec,
    ControllerManagerSettings,
    KubeletSettings,
    ProxySettings,
    SchedulerSettings,
    StoreSettings,
)
from cluster.tls import Tls

STORE_REPLICAS = 3
API_SERVERS = 2  # on different hosts, so that the API outlives a host
ELECTED_REPLICAS = 2  # scheduler and controller manager: a leader and a standby, on different hosts
STORE_PORT_STRIDES = (0, 20000, 30000)  # 2379, 22379, 32379: etcd's local three-member ports
STORE_LAYOUT_FILE = "store-layout.json"
NETWORK_FILE = "network.json"


@dataclasses.dataclass(frozen=True)
class Ports:
    """How `up` lays the cluster out: the address components bind, their ports (0: any free port),
    and the few cluster-wide settings it takes (the Service range, the node monitor's grace)."""

    bind_address: str = "127.0.0.1"
    apiserver: int = 6443  # HTTPS REST (kubectl)
    grpc: int = 6444  # the gRPC API (raykube's components and CLI)
    store: int = 2379
    kubelet: int = 10250
    dns: int = 10053  # each host's DNS responder, behind the kube-dns ClusterIP
    service_cidr: str = "10.96.0.0/12"
    node_monitor_grace_period: float = 20.0  # seconds without a heartbeat before a node is NotReady

    @property
    def loopback(self) -> bool:
        return self.bind_address.startswith("127.")


@dataclasses.dataclass(frozen=True)
class StoreMember:
    name: str
    host: str
    client_port: int
    peer_port: int
    peer_address: str
    # The members it started with (name -> peer address, itself included): for a founder, the
    # founders; for a member added later (moved to a host that joined), the members it joined.
    # None in layouts written before replicas could move: the founders, every member listed.
    peers: dict[str, str] | None = None
    state: str = "new"  # "existing": added later, joining `peers`

    @property
    def ip(self) -> str:
        return self.peer_address.rsplit(":", 1)[0]

    @property
    def client_address(self) -> str:
        return f"{self.ip}:{self.client_port}"


def store_layout(home: Path, addresses: Mapping[str, str], ports: Ports) -> list[StoreMember]:
    """Where the store's replicas live and on which ports: decided once, then kept with the data.

    One replica per host when there are three hosts or more (else round robin over the hosts);
    client ports as etcd's own local three-member cluster (2379, 22379, 32379; peers one above),
    or free ports with a store port of 0. The layout is saved next to the replicas' data, because
    their Raft membership records these peer addresses: later `up`s (even after a `down`) reuse
    it, and replicas never move to a host where their data is not.
    """
    path = home / "data" / STORE_LAYOUT_FILE
    if path.exists():
        return [StoreMember(**member) for member in json.loads(path.read_text())]
    hosts = sorted(addresses)
    layout = []
    for i in range(STORE_REPLICAS):
        host = hosts[i % len(hosts)]
        if ports.store:
            client = ports.store + STORE_PORT_STRIDES[i]
            peer = client + 1
        else:
            client, peer = free_ports(2)
        address = "127.0.0.1" if ports.loopback else addresses[host]
        layout.append(StoreMember(f"store-{i}", host, client, peer, f"{address}:{peer}"))
    founders = {member.name: member.peer_address for member in layout}
    layout = [dataclasses.replace(member, peers=founders) for member in layout]
    save_store_layout(home, layout)
    return layout


def save_store_layout(home: Path, layout: list[StoreMember]) -> None:
    """Replace the saved layout in one step (a crash leaves the old one or the new one)."""
    path = home / "data" / STORE_LAYOUT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w") as out:
        out.write(json.dumps([dataclasses.asdict(member) for member in layout], indent=2))
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)


def replica_moves(layout: list[StoreMember], addresses: Mapping[str, str]) -> list[tuple[StoreMember, str]]:
    """Which replicas should move, and to which host, so that no two share a host's address while
    a live host (by name) has an address none uses: the store then outlives any one host. The
    newest members of a crowded address move first."""

    def place(member: StoreMember) -> str:
        return addresses.get(member.host, member.ip)

    crowded = Counter(place(member) for member in layout)
    free = [host for host in sorted(addresses) if addresses[host] not in crowded]
    moves = []
    for member in reversed(layout):
        if crowded[place(member)] > 1 and free:
            host = free.pop(0)
            moves.append((member, host))
            crowded[place(member)] -= 1
    return moves


def store_spec(
    home: Path, member: StoreMember, layout: list[StoreMember], bind: str, tls: Tls
) -> ComponentSpec:
    """A replica's actor: it starts with the peers it was planned with (the founders, or the
    members it joined), never the current ones: its configuration stays the same for good."""
    peers = member.peers or {m.name: m.peer_address for m in layout}
    return ComponentSpec(member.name, member.host, StoreSettings(
        name=member.name, data_dir=str(home / "data" / member.name), host=bind, port=member.client_port,
        peer_port=member.peer_port, peers=peers, tls=tls, initial_cluster_state=member.state))  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Network:
    """The cluster's Service network, decided once (ClusterIPs are allocated from it) and kept."""

    service_cidr: str
    dns_port: int

    @property
    def dns_ip(self) -> str:
        return ServiceNetwork(ipaddress.IPv4Network(self.service_cidr)).dns_ip

    @property
    def kubernetes_ip(self) -> str:
        return ServiceNetwork(ipaddress.IPv4Network(self.service_cidr)).kubernetes_ip


def network_layout(home: Path, ports: Ports) -> Network:
    """The Service range and the DNS port (a free one for port 0), saved next to the store's data."""
    path = home / "data" / NETWORK_FILE
    if path.exists():
        return Network(**json.loads(path.read_text()))
    network = Network(ports.service_cidr, ports.dns or free_port("0.0.0.0"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dataclasses.asdict(network), indent=2))
    return network


def apiserver_hosts(addresses: Mapping[str, str]) -> list[str]:
    """The hosts the API servers go on: the first (by name) with an address of their own, up to
    API_SERVERS. Hosts that share an address (several on one machine) would want the same ports."""
    chosen: dict[str, str] = {}
    for host in sorted(addresses):
        chosen.setdefault(addresses[host], host)
    return list(chosen.values())[:API_SERVERS]


def plan(
    home: Path,
    addresses: Mapping[str, str],
    tokens: dict[str, auth.UserInfo],
    pki: credentials.Pki,
    ports: Ports,
) -> list[ComponentSpec]:
    """Which actors the cluster needs, on which hosts (`addresses`: host -> its address), and how
    each is configured."""
    hosts = sorted(addresses)
    bind = ports.bind_address
    layout = store_layout(home, addresses, ports)
    network = network_layout(home, ports)
    specs = [store_spec(home, member, layout, bind, pki.tls("store")) for member in layout]
    api_hosts = apiserver_hosts(addresses)
    specs += [
        ComponentSpec(f"apiserver-{i}", host, ApiServerSettings(
            store=tuple(m.name for m in layout), tokens=auth.format_token_file(tokens),
            tls=pki.tls("apiserver"), kubelet_tls=pki.tls("apiserver-kubelet-client"),
            service_account_key=pki.service_account_key, host=bind, port=ports.apiserver,
            grpc_port=ports.grpc, service_cidr=network.service_cidr,
            peer_hosts=() if ports.loopback else tuple(addresses[h] for h in api_hosts)))
        for i, host in enumerate(api_hosts)
    ]  # fmt: skip

    names = {host: f"apiserver-{i}" for i, host in enumerate(api_hosts)}

    def apiservers(host: str) -> tuple[str, ...]:
        """The API servers' actor names for a component on `host`: its own host's first."""
        return tuple(sorted(names.values(), key=lambda name: name != names.get(host)))

    for i in range(ELECTED_REPLICAS):
        host = hosts[i % len(hosts)]
        specs += [
            ComponentSpec(f"scheduler-{i}", host, SchedulerSettings(
                tls=pki.tls("scheduler"), apiservers=apiservers(host))),
            ComponentSpec(f"controller-manager-{i}", host, ControllerManagerSettings(
                tls=pki.tls("controller-manager"), apiservers=apiservers(host),
                node_monitor_grace_period=ports.node_monitor_grace_period)),
        ]  # fmt: skip
    for host in hosts:
        specs += [
            ComponentSpec(f"kubelet-{host}", host, KubeletSettings(
                node_name=host, tls=pki.tls(f"kubelet-{host}"), host=bind, port=ports.kubelet,
                run_dir=str(home / "run" / host), cluster_dns=network.dns_ip, apiservers=apiservers(host))),
            ComponentSpec(f"proxy-{host}", host, ProxySettings(
                tls=pki.tls("proxy"), dns_ip=network.dns_ip, dns_port=network.dns_port,
                apiservers=apiservers(host))),
        ]  # fmt: skip
    return specs
