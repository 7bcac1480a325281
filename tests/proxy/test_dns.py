"""The cluster DNS responder: answers from the proxy's records (pure), then over real UDP and TCP."""

from __future__ import annotations

import asyncio
import socket

from dnslib import RCODE, DNSRecord

from agents.proxy.dns import DnsResponder
from agents.proxy.proxy import dns_records
from tests.proxy.objects import endpoint_slice, service

RECORDS = {
    "web.default.svc.cluster.local": ["10.96.5.5"],
    "db.default.svc.cluster.local": ["10.244.1.2", "10.244.1.3"],
}


def query(name: str, qtype: str = "A") -> bytes:
    return bytes(DNSRecord.question(name, qtype).pack())


def answers(reply: bytes | None) -> tuple[int, list[str]]:
    assert reply
    parsed = DNSRecord.parse(reply)
    return parsed.header.rcode, sorted(str(rr.rdata) for rr in parsed.rr)


def test_cluster_names_are_answered_and_others_forwarded() -> None:
    responder = DnsResponder(lambda: RECORDS, port=0, upstream=[])
    assert answers(responder.answer(query("web.default.svc.cluster.local"))) == (RCODE.NOERROR, ["10.96.5.5"])
    assert answers(responder.answer(query("DB.default.svc.cluster.local."))) == (
        RCODE.NOERROR,
        ["10.244.1.2", "10.244.1.3"],
    )
    assert answers(responder.answer(query("web.default.svc.cluster.local", "AAAA"))) == (RCODE.NOERROR, [])
    assert answers(responder.answer(query("nope.default.svc.cluster.local"))) == (RCODE.NXDOMAIN, [])
    assert responder.answer(query("debian.org")) is None  # not ours: forwarded upstream
    assert responder.answer(b"\x00garbage") == b""  # not a DNS message: dropped
    assert DNSRecord.parse(responder.answer(query("web.default.svc.cluster.local")) or b"").header.aa == 1


def test_records_name_services_by_namespace_and_headless_ones_by_ready_pods() -> None:
    services = [service("web", "10.96.5.5", ("http", 80, 0)), service("db", "None", ("sql", 5432, 0)),
                service("Pending", "", ("http", 80, 0))]  # fmt: skip
    slices = [endpoint_slice("db", "sql", 5432, ["10.244.1.3", "10.244.1.2"], not_ready=("10.244.1.4",))]
    assert dns_records(services, slices, "cluster.local") == RECORDS


def test_udp_and_tcp_round_trips_and_servfail_without_upstream() -> None:
    async def scenario() -> list[tuple[int, list[str]]]:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        responder = DnsResponder(lambda: RECORDS, port=port, upstream=[])
        serving = asyncio.create_task(responder.run())
        try:
            await asyncio.sleep(0.2)
            return await asyncio.to_thread(
                lambda: [
                    answers(DNSRecord.question("web.default.svc.cluster.local").send("127.0.0.1", port, timeout=2)),
                    answers(DNSRecord.question("db.default.svc.cluster.local").send("127.0.0.1", port, tcp=True,
                                                                                     timeout=2)),
                    answers(DNSRecord.question("debian.org").send("127.0.0.1", port, timeout=5)),
                ]
            )  # fmt: skip
        finally:
            serving.cancel()
            await asyncio.gather(serving, return_exceptions=True)

    udp, tcp, forwarded = asyncio.run(scenario())
    assert udp == (RCODE.NOERROR, ["10.96.5.5"])
    assert tcp == (RCODE.NOERROR, ["10.244.1.2", "10.244.1.3"])
    assert forwarded == (RCODE.SERVFAIL, [])  # no upstream resolver to ask
