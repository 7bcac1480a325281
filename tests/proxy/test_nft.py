"""The rendered rules in a real kernel: each test runs in a network namespace of its own
(netns.py) with TCP servers standing in for pods, and checks where connections land."""

from __future__ import annotations

import socket
from typing import Any

from agents.proxy.nft import Nftables
from agents.proxy.ruleset import Backend, ServicePort, render
from tests.proxy.backends import ask, serving
from tests.proxy.netns import NODE_IP, run_isolated

POD_A, POD_B, POD_C = "10.244.9.2", "10.244.9.3", "10.244.9.4"


def web(*backends: str, affinity: int = 0) -> ServicePort:
    return ServicePort("default/web/http/TCP", "10.96.5.5", "tcp", 80, 30080,
                       tuple(Backend(ip, 8080) for ip in backends), affinity)  # fmt: skip


EMPTY = ServicePort("default/empty/http/TCP", "10.96.5.6", "tcp", 80, 0, ())


def apply(nft: Nftables, *ports: ServicePort) -> None:
    nft.apply(render(list(ports), nft.existing()))


def _balanced() -> dict[str, Any]:
    nft = Nftables()
    apply(nft, web(POD_A, POD_B), EMPTY)
    with serving([POD_A, POD_B], 8080):
        seen: dict[str, Any] = {
            "cluster_ip": {ask("10.96.5.5", 80) for _ in range(30)},
            "node_port": {ask(NODE_IP, 30080) for _ in range(30)},
        }
        try:
            ask("127.0.0.1", 30080)
            seen["loopback_node_port"] = "answered"
        except ConnectionRefusedError:
            seen["loopback_node_port"] = "refused"
        try:
            ask("10.96.5.6", 80)
            seen["no_endpoints"] = "answered"
        except ConnectionRefusedError:  # rejected at once, as kube-proxy does, not left to time out
            seen["no_endpoints"] = "refused"
    return seen


def test_cluster_ips_and_node_ports_spread_over_every_backend() -> None:
    seen = run_isolated(_balanced)
    assert seen["cluster_ip"] == seen["node_port"] == {POD_A, POD_B}
    assert seen["loopback_node_port"] == "refused"  # NodePorts answer on the node's addresses, not 127/8
    assert seen["no_endpoints"] == "refused"


def _sticky() -> list[str]:
    nft = Nftables()
    apply(nft, web(POD_A, POD_B, POD_C, affinity=60))
    with serving([POD_A, POD_B, POD_C], 8080):
        return [ask("10.96.5.5", 80) for _ in range(20)]


def test_client_ip_affinity_keeps_a_client_on_one_backend() -> None:
    answers = run_isolated(_sticky)
    assert len(set(answers)) == 1, answers


def _resync() -> dict[str, Any]:
    nft = Nftables()
    apply(nft, web(POD_A, POD_B, affinity=60), EMPTY)
    before = nft.existing()
    apply(nft, web(POD_C))  # endpoints replaced, affinity dropped, the empty Service deleted
    after = nft.existing()
    with serving([POD_A, POD_B, POD_C], 8080):
        answers = {ask("10.96.5.5", 80) for _ in range(10)}
    try:
        with socket.create_connection(("10.96.5.6", 80), timeout=1):
            pass
        deleted = "answered"
    except ConnectionRefusedError:
        deleted = "refused"
    except OSError:
        deleted = "not routed"  # no rule any more: the packet goes to the default route, and nowhere
    text = nft.text()
    removed = nft.delete_table(), nft.delete_table(), nft.existing()
    return {"before": before, "after": after, "answers": answers, "deleted": deleted, "text": text,
            "removed": removed}  # fmt: skip


def test_a_sync_replaces_the_rules_and_removes_what_is_gone() -> None:
    result = run_isolated(_resync)
    assert result["answers"] == {POD_C}
    assert result["deleted"] == "not routed"
    before, after = result["before"], result["after"]
    chains = lambda existing: sorted(c for c in existing.chains if c.startswith(("svc-", "ep-")))  # noqa: E731
    assert len(chains(before)) == 3 and len(chains(after)) == 2
    assert not set(chains(before)) & set(chains(after)) - {c for c in chains(after) if c.startswith("svc-")}
    assert any(s.startswith("affinity-") for s in before.sets)
    assert not any(s.startswith("affinity-") for s in after.sets)
    assert "table ip raykube" in result["text"] and "dnat to 10.244.9.4:8080" in result["text"]
    assert result["removed"][:2] == (True, False) and not result["removed"][2].chains


def test_a_refused_transaction_changes_nothing() -> None:
    result = run_isolated(_refused, Backend("not-an-ip", 8080))  # the API validates; the kernel too
    assert "nftables refused the transaction" in result["error"]
    assert result["answers"] == {POD_A}


def _refused(bad: Backend) -> dict[str, Any]:
    from agents.proxy.nft import NftError

    nft = Nftables()
    apply(nft, web(POD_A))
    error = ""
    try:
        apply(nft, web(POD_B), ServicePort("default/bad/http/TCP", "10.96.5.8", "tcp", 80, 0, (bad,)))
    except NftError as refused:
        error = str(refused)
    with serving([POD_A, POD_B], 8080):
        return {"error": error, "answers": {ask("10.96.5.5", 80) for _ in range(10)}}
