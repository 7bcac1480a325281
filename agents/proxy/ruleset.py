"""Services and EndpointSlices to nftables rules (kube-proxy's nftables mode as the model), pure.

One table, `ip raykube`, all of it rewritten by one transaction per sync:

    chain nat-prerouting / nat-output (dstnat)  jump services
    chain services        ip daddr . meta l4proto . th dport vmap @service-ips
                          fib daddr type local ip daddr != 127.0.0.0/8
                              meta l4proto . th dport vmap @service-nodeports
                          ip daddr <dns> udp/tcp dport 53 redirect to :<local DNS port>
    map service-ips       <clusterIP> . <proto> . <port> : goto svc-<hash>
    map service-nodeports <proto> . <nodePort> : goto svc-<hash>
    chain svc-<hash>      meta mark set meta mark | 0x4000     (masquerade it on the way out)
                          [ip saddr @affinity-<ep> goto ep-<ep>, for ClientIP session affinity]
                          numgen random mod N vmap { 0 : goto ep-<a>, 1 : goto ep-<b>, ... }
    chain ep-<hash>       [update @affinity-<ep> { ip saddr }]  <proto> dnat to <pod ip>:<port>
    chain nat-postrouting (srcnat)  meta mark & 0x4000 == 0x4000 masquerade
    set no-endpoints      <clusterIP> . <proto> . <port> of Services with no ready endpoint,
                          rejected (ICMP port unreachable) in filter-output and filter-forward.

Masquerading makes every path work the same, from the host, from a pod to a pod on the same
bridge (the reply must come back through the host to be un-NATed), and through NodePorts. The
transaction first flushes every rule and our maps, deletes the chains and affinity sets that are
no longer wanted, then adds the rest: until it commits the old rules stay in force, and affinity
sets that remain keep their clients.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from raykube.v1 import discovery_pb2, service_pb2

TABLE = {"family": "ip", "name": "raykube"}
MARK = 0x4000
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
Command = dict[str, Any]


@dataclass(frozen=True, order=True)
class Backend:
    ip: str
    port: int


@dataclass(frozen=True)
class ServicePort:
    """One port of one Service, with the ready endpoints behind it."""

    key: str  # namespace/name/port name/protocol: names its chains
    cluster_ip: str
    protocol: str  # tcp, udp, sctp
    port: int
    node_port: int
    backends: tuple[Backend, ...]
    affinity_seconds: int = 0  # ClientIP session affinity timeout; 0: none


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def service_chain(port: ServicePort) -> str:
    return f"svc-{_digest(port.key)}"


def endpoint_chain(port: ServicePort, backend: Backend) -> str:
    return f"ep-{_digest(f'{port.key}/{backend.ip}:{backend.port}')}"


def affinity_set(port: ServicePort, backend: Backend) -> str:
    return f"affinity-{_digest(f'{port.key}/{backend.ip}:{backend.port}')}"


def service_ports(
    services: Iterable[service_pb2.Service], slices: Iterable[discovery_pb2.EndpointSlice]
) -> list[ServicePort]:
    """What the proxy routes: every port of every Service with a ClusterIP (headless ones have
    none), with the ready endpoints its IPv4 EndpointSlices list for that port (pure)."""
    by_service: dict[tuple[str, str], list[discovery_pb2.EndpointSlice]] = {}
    for endpoint_slice in slices:
        if endpoint_slice.address_type != "IPv4":
            continue  # IPv6 and FQDN slices are for other proxies (raykube's is IPv4 only)
        name = endpoint_slice.metadata.labels.get(SERVICE_NAME_LABEL, "")
        by_service.setdefault((endpoint_slice.metadata.namespace, name), []).append(endpoint_slice)
    routed = []
    for service in services:
        spec, meta = service.spec, service.metadata
        if not spec.cluster_ip or spec.cluster_ip == "None":
            continue
        affinity = (
            spec.session_affinity_config.client_ip.timeout_seconds
            if spec.session_affinity == "ClientIP"
            else 0
        )
        for port in spec.ports:
            protocol = port.protocol or "TCP"
            backends = {
                Backend(address, slice_port.port)
                for endpoint_slice in by_service.get((meta.namespace, meta.name), [])
                for slice_port in endpoint_slice.ports
                if slice_port.name == port.name and (slice_port.protocol or "TCP") == protocol
                for endpoint in endpoint_slice.endpoints
                if endpoint.conditions.ready
                for address in endpoint.addresses
            }
            routed.append(ServicePort(
                key=f"{meta.namespace}/{meta.name}/{port.name}/{protocol}", cluster_ip=spec.cluster_ip,
                protocol=protocol.lower(), port=port.port, node_port=port.node_port,
                backends=tuple(sorted(backends)), affinity_seconds=affinity,
            ))  # fmt: skip
    return sorted(routed, key=lambda p: p.key)


@dataclass(frozen=True)
class Existing:
    """What the table holds now (its chains and sets), so a sync can remove what is no longer wanted."""

    chains: frozenset[str] = frozenset()
    sets: frozenset[str] = frozenset()


BASE_CHAINS = {
    "nat-prerouting": ("nat", "prerouting", -100),
    "nat-output": ("nat", "output", -100),
    "nat-postrouting": ("nat", "postrouting", 100),
    "filter-output": ("filter", "output", 0),
    "filter-forward": ("filter", "forward", 0),
}
MAPS = {
    "service-ips": (["ipv4_addr", "inet_proto", "inet_service"], "verdict"),
    "service-nodeports": (["inet_proto", "inet_service"], "verdict"),
}
NO_ENDPOINTS = "no-endpoints"
SERVICE_KEY = [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}},
               {"payload": {"protocol": "th", "field": "dport"}}]  # fmt: skip


def _object(kind: str, name: str, **fields: Any) -> Command:
    """A chain, set, map or element object of our table, by `name`."""
    return {kind: {"family": TABLE["family"], "table": TABLE["name"], "name": name, **fields}}


def _rule(chain: str, *expr: Any) -> Command:
    return {"add": {"rule": {"family": "ip", "table": TABLE["name"], "chain": chain, "expr": list(expr)}}}


def _match(left: Any, right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _goto(chain: str) -> dict[str, Any]:
    return {"goto": {"target": chain}}


def render(
    ports: Sequence[ServicePort], existing: Existing, dns: tuple[str, int] | None = None
) -> list[Command]:
    """The one transaction that makes the table exactly what `ports` (and the DNS redirect) need."""
    if dns is not None:  # the kube-dns ClusterIP is redirected to the local responder, not routed
        ports = [p for p in ports if p.cluster_ip != dns[0]]
    with_backends = [p for p in ports if p.backends]
    chains = {service_chain(p) for p in with_backends} | {
        endpoint_chain(p, b) for p in with_backends for b in p.backends
    }
    affinity = {
        affinity_set(p, b): p.affinity_seconds
        for p in with_backends
        if p.affinity_seconds
        for b in p.backends
    }
    commands: list[Command] = [{"add": {"table": dict(TABLE)}}, {"flush": {"table": dict(TABLE)}}]
    for map_name, (key_type, data) in MAPS.items():
        commands.append({"add": _object("map", map_name, type=key_type, map=data)})
        commands.append({"flush": _object("map", map_name)})
    commands.append({"add": _object("set", NO_ENDPOINTS, type=MAPS["service-ips"][0])})
    commands.append({"flush": _object("set", NO_ENDPOINTS)})
    for stale in sorted(existing.chains - chains - set(BASE_CHAINS) - {"services"}):
        commands.append({"delete": _object("chain", stale)})
    for stale in sorted(existing.sets - set(affinity) - set(MAPS) - {NO_ENDPOINTS}):
        commands.append({"delete": _object("set", stale)})
    for chain, (kind, hook, priority) in BASE_CHAINS.items():
        commands.append({"add": _object("chain", chain, type=kind, hook=hook, prio=priority,
                                       policy="accept")})  # fmt: skip
    for chain in ["services", *sorted(chains)]:
        commands.append({"add": _object("chain", chain)})
    for set_name, seconds in sorted(affinity.items()):
        commands.append({"add": _object("set", set_name, type="ipv4_addr", flags=["timeout"],
                                       timeout=seconds)})  # fmt: skip
    commands += _base_rules(dns)
    ip_elements = [
        [{"concat": [p.cluster_ip, p.protocol, p.port]}, _goto(service_chain(p))] for p in with_backends
    ]
    port_elements = [
        [{"concat": [p.protocol, p.node_port]}, _goto(service_chain(p))] for p in with_backends if p.node_port
    ]
    dead = [{"concat": [p.cluster_ip, p.protocol, p.port]} for p in ports if not p.backends]
    for target, elements in (
        ("service-ips", ip_elements),
        ("service-nodeports", port_elements),
        (NO_ENDPOINTS, dead),
    ):
        if elements:
            commands.append({"add": _object("element", target, elem=elements)})
    for port in with_backends:
        commands += _service_rules(port)
    return commands


DADDR = {"payload": {"protocol": "ip", "field": "daddr"}}
SADDR = {"payload": {"protocol": "ip", "field": "saddr"}}
META_MARK = {"meta": {"key": "mark"}}
LOOPBACK = {"prefix": {"addr": "127.0.0.0", "len": 8}}


def _base_rules(dns: tuple[str, int] | None) -> list[Command]:
    local = _match({"fib": {"result": "type", "flags": ["daddr"]}}, "local")
    rules = [
        _rule("nat-prerouting", {"jump": {"target": "services"}}),
        _rule("nat-output", {"jump": {"target": "services"}}),
        _rule("services", {"vmap": {"key": {"concat": SERVICE_KEY}, "data": "@service-ips"}}),
        _rule("services", local, _match(DADDR, LOOPBACK, "!="),
              {"vmap": {"key": {"concat": SERVICE_KEY[1:]}, "data": "@service-nodeports"}}),
        _rule("nat-postrouting", _match({"&": [META_MARK, MARK]}, MARK), {"masquerade": None}),
    ]  # fmt: skip
    reject = {"reject": {"type": "icmp", "expr": "port-unreachable"}}
    for chain in ("filter-output", "filter-forward"):
        rules.append(_rule(chain, _match({"concat": SERVICE_KEY}, f"@{NO_ENDPOINTS}"), reject))
    if dns is not None:
        address, local_port = dns
        for protocol in ("udp", "tcp"):
            port = {"payload": {"protocol": protocol, "field": "dport"}}
            rules.append(
                _rule(
                    "services", _match(DADDR, address), _match(port, 53), {"redirect": {"port": local_port}}
                )
            )
    return rules


def _service_rules(port: ServicePort) -> list[Command]:
    chain = service_chain(port)
    rules = [_rule(chain, {"mangle": {"key": META_MARK, "value": {"|": [META_MARK, MARK]}}})]
    for backend in port.backends if port.affinity_seconds else ():
        seen = _match(SADDR, f"@{affinity_set(port, backend)}")
        rules.append(_rule(chain, seen, _goto(endpoint_chain(port, backend))))
    choices = [[i, _goto(endpoint_chain(port, b))] for i, b in enumerate(port.backends)]
    pick = {"numgen": {"mode": "random", "mod": len(choices), "offset": 0}}
    rules.append(_rule(chain, {"vmap": {"key": pick, "data": {"set": choices}}}))
    for backend in port.backends:
        endpoint = endpoint_chain(port, backend)
        if port.affinity_seconds:
            remember = {"set": {"op": "update", "elem": SADDR, "set": f"@{affinity_set(port, backend)}"}}
            rules.append(_rule(endpoint, remember))
        dnat = {"dnat": {"addr": backend.ip, "port": backend.port}}
        rules.append(_rule(endpoint, _match({"meta": {"key": "l4proto"}}, port.protocol), dnat))
    return rules
