"""Where `up` places components: the Service network is decided at the first `up` and kept, like
the store's layout; the control plane spreads over hosts; clients know every API server."""

from __future__ import annotations

from pathlib import Path

from cluster.bootstrap import credentials
from cluster.bootstrap.placement import Network, Ports, apiserver_hosts, network_layout, plan
from cluster.bootstrap.settings import ApiServerSettings


def test_the_service_network_is_kept_after_the_first_up(tmp_path: Path) -> None:
    first = network_layout(tmp_path, Ports(service_cidr="10.100.0.0/16", dns=0))
    assert first.service_cidr == "10.100.0.0/16" and first.dns_ip == "10.100.0.10"
    assert 1024 <= first.dns_port <= 65535  # port 0: a free one, chosen once
    assert network_layout(tmp_path, Ports(service_cidr="10.200.0.0/16", dns=5353)) == first
    assert network_layout(tmp_path / "other", Ports()) == Network("10.96.0.0/12", 10053)


def test_api_servers_go_on_two_hosts_with_addresses_of_their_own() -> None:
    assert apiserver_hosts({"lab1": "10.0.0.11", "lab2": "10.0.0.12", "lab3": "10.0.0.13"}) == [
        "lab1",
        "lab2",
    ]
    # hosts sharing an address (several on one machine) would want the same ports
    assert apiserver_hosts({"lab1": "10.0.0.11", "lab2": "10.0.0.11", "lab3": "10.0.0.13"}) == [
        "lab1",
        "lab3",
    ]
    assert apiserver_hosts({"a": "127.0.0.1", "b": "127.0.0.1"}) == ["a"]


def test_the_plan_spreads_the_control_plane_and_points_each_component_at_its_nearest_api_server(
    tmp_path: Path,
) -> None:
    addresses = {"lab1": "10.0.0.11", "lab2": "10.0.0.12", "lab3": "10.0.0.13"}
    pki = credentials.ensure_pki(
        tmp_path, credentials.identities(sorted(addresses), addresses.values(), "10.96.0.1")
    )
    tokens = credentials.ensure_tokens(tmp_path, sorted(addresses))
    specs = {
        spec.name: spec for spec in plan(tmp_path, addresses, tokens, pki, Ports(bind_address="0.0.0.0"))
    }
    hosts = {name: spec.host for name, spec in specs.items()}
    assert [hosts[f"store-{i}"] for i in range(3)] == ["lab1", "lab2", "lab3"]
    assert (hosts["apiserver-0"], hosts["apiserver-1"]) == ("lab1", "lab2")
    assert {hosts["scheduler-0"], hosts["scheduler-1"]} == {"lab1", "lab2"}
    for i in range(2):
        settings = specs[f"apiserver-{i}"].settings
        assert isinstance(settings, ApiServerSettings)
        assert settings.peer_hosts == ("10.0.0.11", "10.0.0.12")  # the `kubernetes` Service's endpoints
    nearest = {name: getattr(spec.settings, "apiservers", None) for name, spec in specs.items()}
    assert nearest["kubelet-lab1"] == nearest["scheduler-0"] == ("apiserver-0", "apiserver-1")
    assert nearest["kubelet-lab2"] == nearest["proxy-lab2"] == ("apiserver-1", "apiserver-0")
    assert nearest["kubelet-lab3"] == ("apiserver-0", "apiserver-1")
