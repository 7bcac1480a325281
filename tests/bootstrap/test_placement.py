"""The Service network is decided at the first `up` and kept, like the store's layout."""

from __future__ import annotations

from pathlib import Path

from cluster.bootstrap.placement import Network, Ports, network_layout


def test_the_service_network_is_kept_after_the_first_up(tmp_path: Path) -> None:
    first = network_layout(tmp_path, Ports(service_cidr="10.100.0.0/16", dns=0))
    assert first.service_cidr == "10.100.0.0/16" and first.dns_ip == "10.100.0.10"
    assert 1024 <= first.dns_port <= 65535  # port 0: a free one, chosen once
    assert network_layout(tmp_path, Ports(service_cidr="10.200.0.0/16", dns=5353)) == first
    assert network_layout(tmp_path / "other", Ports()) == Network("10.96.0.0/12", 10053)
