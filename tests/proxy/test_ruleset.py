"""What the proxy routes and the one nftables transaction it renders (pure).

The rendered transaction is compared with testdata/render.golden, one command per line;
RAYKUBE_REWRITE=1 rewrites it with the actual output (review the diff before committing).
test_nft.py loads the same transactions into a real kernel.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agents.proxy.ruleset import Backend, Existing, ServicePort, endpoint_chain, render, service_ports
from tests.proxy.objects import endpoint_slice, service

GOLDEN = Path(__file__).parent / "testdata" / "render.golden"


def test_only_ready_endpoints_of_the_matching_port_and_protocol_are_routed() -> None:
    services = [
        service("web", "10.96.5.5", ("http", 80, 30080), ("metrics", 9090, 0)),
        service("dns", "10.96.5.6", ("dns", 53, 0), protocol="UDP", affinity=60),
        service("headless", "None", ("http", 80, 0)),
        service("pending", "", ("http", 80, 0)),  # not allocated yet
    ]
    slices = [
        endpoint_slice("web", "http", 8080, ["10.244.1.2", "10.244.1.3"], not_ready=("10.244.1.4",)),
        endpoint_slice("web", "http", 8080, ["10.244.2.2"], suffix="2"),
        endpoint_slice("web", "metrics", 9100, ["10.244.1.2"], protocol="UDP", suffix="3"),  # wrong protocol
        endpoint_slice("dns", "dns", 5353, ["10.244.1.9"], protocol="UDP"),
        endpoint_slice("headless", "http", 8080, ["10.244.1.2"]),
        endpoint_slice("web", "http", 8080, ["web.example."], suffix="4"),
    ]
    slices[-1].address_type = "FQDN"
    routed = {p.key: p for p in service_ports(services, slices)}
    assert sorted(routed) == ["default/dns/dns/UDP", "default/web/http/TCP", "default/web/metrics/TCP"]
    web = routed["default/web/http/TCP"]
    assert (web.cluster_ip, web.protocol, web.port, web.node_port) == ("10.96.5.5", "tcp", 80, 30080)
    assert web.backends == (
        Backend("10.244.1.2", 8080),
        Backend("10.244.1.3", 8080),
        Backend("10.244.2.2", 8080),
    )
    assert routed["default/web/metrics/TCP"].backends == ()
    dns = routed["default/dns/dns/UDP"]
    assert (dns.protocol, dns.backends, dns.affinity_seconds) == ("udp", (Backend("10.244.1.9", 5353),), 60)


def example_ports() -> list[ServicePort]:
    return [
        ServicePort("default/web/http/TCP", "10.96.5.5", "tcp", 80, 30080,
                    (Backend("10.244.9.2", 8080), Backend("10.244.9.3", 8080))),
        ServicePort("default/sticky/http/TCP", "10.96.5.7", "tcp", 80, 0, (Backend("10.244.9.4", 8080),), 30),
        ServicePort("default/empty/http/TCP", "10.96.5.6", "tcp", 80, 0, ()),
        ServicePort("kube-system/kube-dns/dns/UDP", "10.96.0.10", "udp", 53, 0, (Backend("10.244.9.2", 53),)),
    ]  # fmt: skip


def test_the_transaction_matches_the_golden_file() -> None:
    gone = ServicePort("default/gone/http/TCP", "10.96.5.9", "tcp", 80, 0, (Backend("10.244.9.9", 80),))
    existing = Existing(
        chains=frozenset({"services", "nat-output", "svc-stale", endpoint_chain(gone, gone.backends[0])}),
        sets=frozenset({"service-ips", "no-endpoints", "affinity-stale"}),
    )
    commands = render(example_ports(), existing, dns=("10.96.0.10", 10053))
    actual = "".join(json.dumps(command, sort_keys=True) + "\n" for command in commands)
    if os.environ.get("RAYKUBE_REWRITE") == "1":
        GOLDEN.write_text(actual)
    assert actual == GOLDEN.read_text(), (
        "render.golden differs; rerun with RAYKUBE_REWRITE=1 and review the diff"
    )


def test_stale_chains_and_sets_are_deleted_and_base_objects_kept() -> None:
    existing = Existing(chains=frozenset({"services", "svc-old", "ep-old"}), sets=frozenset({"affinity-old"}))
    deleted = [
        (kind, body["name"])
        for command in render(example_ports(), existing)
        if "delete" in command
        for kind, body in command["delete"].items()
    ]
    assert deleted == [("chain", "ep-old"), ("chain", "svc-old"), ("set", "affinity-old")]


def test_the_dns_service_is_redirected_not_balanced() -> None:
    commands = json.dumps(render(example_ports(), Existing(), dns=("10.96.0.10", 10053)))
    assert '"redirect": {"port": 10053}' in commands
    assert '10.244.9.2", "port": 53' not in commands  # kube-dns' own endpoints are not used
    without = json.dumps(render(example_ports(), Existing()))
    assert "redirect" not in without and '"port": 53}' in without
