"""Where `up` places components: the Service network is decided at the first `up` and kept, like
the store's layout; the control plane spreads over hosts; clients know every API server."""

from __future__ import annotations

from pathlib import Path

from cluster.bootstrap import credentials
from cluster.bootstrap.placement import (
    Network,
    Ports,
    StoreMember,
    apiserver_hosts,
    network_layout,
    plan,
    replica_moves,
    store_layout,
    store_spec,
)
from cluster.bootstrap.settings import ApiServerSettings, StoreSettings
from cluster.tls import Tls


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
        spec.name: spec
        for spec in plan(
            tmp_path, addresses, tokens, pki, Ports(bind_address="0.0.0.0", node_monitor_grace_period=90)
        )
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
    assert {specs[f"controller-manager-{i}"].settings.node_monitor_grace_period for i in range(2)} == {90}


def _member(i: int, host: str, ip: str) -> StoreMember:
    return StoreMember(f"store-{i}", host, 2379 + 10000 * i, 2380 + 10000 * i, f"{ip}:{2380 + 10000 * i}")


def test_replicas_that_share_a_host_move_to_hosts_that_joined_later() -> None:
    crowded = [_member(i, "lab1", "10.0.0.11") for i in range(3)]
    three = {"lab1": "10.0.0.11", "lab2": "10.0.0.12", "lab3": "10.0.0.13"}
    assert [(m.name, host) for m, host in replica_moves(crowded, three)] == [
        ("store-2", "lab2"),
        ("store-1", "lab3"),
    ]
    assert [(m.name, host) for m, host in replica_moves(crowded, {"lab1": "10.0.0.11", "lab2": "10.0.0.12"})] == [
        ("store-2", "lab2")]  # fmt: skip
    spread = [
        _member(0, "lab1", "10.0.0.11"),
        _member(1, "lab2", "10.0.0.12"),
        _member(2, "lab3", "10.0.0.13"),
    ]
    assert replica_moves(spread, {**three, "lab4": "10.0.0.14"}) == []
    # on one machine: replicas listen on 127.0.0.1, the hosts' Ray nodes share another address
    on_one_machine = [_member(i, "a", "127.0.0.1") for i in range(3)]
    assert replica_moves(on_one_machine, {"a": "127.0.0.2", "b": "127.0.0.2"}) == []


def test_a_member_starts_with_the_peers_it_was_planned_with(tmp_path: Path) -> None:
    founders = store_layout(tmp_path, {"lab1": "10.0.0.11"}, Ports(bind_address="0.0.0.0"))
    founding = {m.name: m.peer_address for m in founders}
    joined = {**founding, "store-3": "10.0.0.12:32380"}
    added = StoreMember("store-3", "lab2", 32379, 32380, "10.0.0.12:32380", joined, "existing")
    after_the_move = [founders[0], founders[1], added]  # store-2 moved to lab2 as store-3
    tls = Tls("ca", "cert", "key")
    first = store_spec(tmp_path, founders[0], after_the_move, "0.0.0.0", tls).settings
    later = store_spec(tmp_path, added, after_the_move, "0.0.0.0", tls).settings
    assert isinstance(first, StoreSettings) and isinstance(later, StoreSettings)
    assert (dict(first.peers), first.initial_cluster_state) == (founding, "new")  # as when it was founded
    assert (dict(later.peers), later.initial_cluster_state) == (joined, "existing")
