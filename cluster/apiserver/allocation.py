"""Services' ClusterIPs and NodePorts: allocated in the store, so two Services never share one.

Each allocated value is a claim key beside the Service (`/registry/allocations/clusterips/<ip>`,
`/registry/allocations/nodeports/<protocol>/<port>`), created in the same transaction as the
Service, only if absent, and deleted in the same transaction that deletes it (or, on an update,
that stops using it). A value the client asked for that is taken is refused (422, with the
field); a value picked here that turns out to be taken is picked again. Picks are random over
the range, as kube-apiserver's allocators start from.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from cluster.api.resources import REGISTRY_PREFIX
from raykube.v1 import service_pb2

CLAIMS = f"{REGISTRY_PREFIX}allocations/"
V = TypeVar("V", str, int)
NONE = "None"  # a headless Service's clusterIP


@dataclass(frozen=True)
class ServiceNetwork:
    """The virtual addresses Services get: ClusterIPs from `cidr`, NodePorts from `node_ports`."""

    cidr: ipaddress.IPv4Network = field(default_factory=lambda: ipaddress.IPv4Network("10.96.0.0/12"))
    node_ports: range = range(30000, 32768)

    @property
    def kubernetes_ip(self) -> str:
        """The `kubernetes` Service's ClusterIP: the range's first address (Kubernetes' rule)."""
        return str(self.cidr.network_address + 1)

    @property
    def dns_ip(self) -> str:
        """Where pods send DNS queries: the range's tenth address (kube-dns' conventional one)."""
        return str(self.cidr.network_address + 10)

    def contains(self, address: str) -> bool:
        try:
            return ipaddress.IPv4Address(address) in self.cidr
        except ipaddress.AddressValueError:
            return False

    def random_ip(self, rng: random.Random) -> str:
        first, last = int(self.cidr.network_address) + 1, int(self.cidr.broadcast_address) - 1
        return str(ipaddress.IPv4Address(rng.randint(first, last)))


def ip_claim(address: str) -> str:
    return f"{CLAIMS}clusterips/{address}"


def port_claim(protocol: str, port: int) -> str:
    return f"{CLAIMS}nodeports/{protocol.lower()}/{port}"


def claims(service: service_pb2.Service) -> dict[str, str]:
    """claim key -> the field that holds the value, for everything `service` has allocated."""
    spec = service.spec
    held: dict[str, str] = {}
    if spec.cluster_ip and spec.cluster_ip != NONE:
        held[ip_claim(spec.cluster_ip)] = "spec.clusterIP"
    for i, port in enumerate(spec.ports):
        if port.node_port:
            held[port_claim(port.protocol or "TCP", port.node_port)] = f"spec.ports[{i}].nodePort"
    return held


class Allocator:
    """Fills in a Service's unset ClusterIP and NodePorts, and picks again when a pick was taken."""

    def __init__(self, network: ServiceNetwork, rng: random.Random | None = None):
        self.network = network
        self._rng = rng or random.Random()

    def fill(self, service: service_pb2.Service, kept: service_pb2.Service | None = None) -> None:
        """Assign what is unset, keeping what `kept` (the stored version) has for the same ports."""
        spec = service.spec
        if not spec.cluster_ip:
            if kept is not None and kept.spec.cluster_ip:
                spec.cluster_ip = kept.spec.cluster_ip
            else:
                spec.cluster_ip = self.network.random_ip(self._rng)
        del spec.cluster_ips[:]
        spec.cluster_ips.append(spec.cluster_ip)
        if spec.type != "NodePort":
            if kept is not None and kept.spec.type == "NodePort":
                for port in spec.ports:  # no longer a NodePort Service: its ports go back to the range
                    port.node_port = 0
            return
        before = {(p.port, p.protocol): p.node_port for p in kept.spec.ports} if kept is not None else {}
        for port in spec.ports:
            if not port.node_port:
                port.node_port = before.get((port.port, port.protocol)) or self._port()

    def pick_again(self, service: service_pb2.Service, field: str, taken: set[str]) -> None:
        """A value picked for `field` was taken meanwhile: pick one whose claim key is not in `taken`."""
        if field == "spec.clusterIP":
            address = self._free(lambda: self.network.random_ip(self._rng), ip_claim, taken, self._all_ips)
            service.spec.cluster_ip = address
            del service.spec.cluster_ips[:]
            service.spec.cluster_ips.append(address)
        else:
            port = service.spec.ports[int(field.removeprefix("spec.ports[").split("]")[0])]
            protocol = port.protocol or "TCP"
            port.node_port = self._free(self._port, lambda p: port_claim(protocol, p), taken,
                                        lambda: iter(self.network.node_ports))  # fmt: skip

    def _free(self, pick: Callable[[], V], claim: Callable[[V], str], taken: set[str],
              every: Callable[[], Iterator[V]]) -> V:  # fmt: skip
        """A value not taken: random first (cheap in a large range), else the first free one."""
        for _ in range(64):
            value = pick()
            if claim(value) not in taken:
                return value
        return next((v for v in every() if claim(v) not in taken), pick())  # full: the write will say so

    def _all_ips(self) -> Iterator[str]:
        return (str(ip) for ip in self.network.cidr.hosts())

    def _port(self) -> int:
        return self._rng.choice(self.network.node_ports)
