"""Free ports for a Ray node's components: several picked at once are all different and free."""

from __future__ import annotations

import socket

from cluster.bootstrap.ray_node import free_ports


def test_ports_picked_together_are_different_and_can_be_bound() -> None:
    for _ in range(200):  # picked one at a time, the system sometimes handed out a port twice
        ports = free_ports(6)
        assert len(set(ports)) == 6, ports
    with socket.socket() as a, socket.socket() as b:
        first, second = free_ports(2)
        a.bind(("127.0.0.1", first))
        b.bind(("127.0.0.1", second))
