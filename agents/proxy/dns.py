"""Service names for pods: a small DNS responder on each host (there is no CoreDNS for Debian 12).

Answers from a table the proxy keeps (fed by the same watches as its rules):
    <service>.<namespace>.svc.<domain>  A  the ClusterIP; for a headless Service, its ready pods' IPs
A name in the cluster domain that is not in the table is NXDOMAIN; other record types of a known
name answer empty (so resolvers do not wait for AAAA); names outside the domain are forwarded to
the host's own resolvers (/etc/resolv.conf). Pods reach it through the kube-dns ClusterIP, which
the proxy redirects to this host's responder (UDP and TCP on `port`, bound on every address with
SO_REUSEPORT, so two responders of one machine can share the port, as in single-machine tests).
Messages are parsed and built with dnslib, a maintained DNS library, rather than by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import cast

from dnslib import QTYPE, RCODE, RR, A, DNSError, DNSRecord

log = logging.getLogger(__name__)
Records = Callable[[], Mapping[str, list[str]]]  # fully qualified name (lowercase, no dot) -> IPv4s


def upstream_servers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    try:
        lines = Path(resolv_conf).read_text().splitlines()
    except OSError:
        return []
    return [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]


class DnsResponder:
    def __init__(
        self, records: Records, *, port: int, domain: str = "cluster.local", upstream: list[str] | None = None
    ):
        self._records = records
        self.port = port
        self._domain = domain.strip(".").lower()
        self._upstream = upstream if upstream is not None else upstream_servers()

    def answer(self, query: bytes) -> bytes | None:
        """The reply to a query for a cluster name, or None: forward it (pure but for the table)."""
        try:
            request = DNSRecord.parse(query)
        except DNSError:
            return b""  # not a DNS query: no answer
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        if not (name == self._domain or name.endswith("." + self._domain)):
            return None
        addresses = self._records().get(name)
        if addresses is None:
            reply.header.rcode = RCODE.NXDOMAIN
        elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
            for address in addresses:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=5))
        reply.header.aa = 1
        return bytes(reply.pack())

    def _forward(self, query: bytes, tcp: bool) -> bytes:
        for server in self._upstream:
            with contextlib.suppress(OSError, TimeoutError):
                return bytes(DNSRecord.parse(query).send(server, 53, tcp=tcp, timeout=2))
        reply = DNSRecord.parse(query).reply()
        reply.header.rcode = RCODE.SERVFAIL
        return bytes(reply.pack())

    async def respond(self, query: bytes, tcp: bool = False) -> bytes:
        answer = self.answer(query)
        if answer is None:
            return await asyncio.to_thread(self._forward, query, tcp)
        return answer

    async def run(self) -> None:
        """Serve on UDP and TCP until cancelled."""
        loop = asyncio.get_running_loop()
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        udp.bind(("0.0.0.0", self.port))
        transport, _ = await loop.create_datagram_endpoint(lambda: _Udp(self), sock=udp)
        server = await asyncio.start_server(self._tcp, "0.0.0.0", self.port, reuse_port=True)
        log.info("DNS responder for %s on port %d (UDP and TCP)", self._domain, self.port)
        try:
            await server.serve_forever()
        finally:
            transport.close()
            server.close()

    async def _tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.respond(await reader.readexactly(length), tcp=True)
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, responder: DnsResponder):
        self._responder = responder
        self._transport: asyncio.DatagramTransport | None = None
        self._forwarding: set[asyncio.Task[None]] = set()  # queries waiting for an upstream answer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer = self._responder.answer(data)
        if answer is not None:
            if answer and self._transport is not None:
                self._transport.sendto(answer, addr)
            return
        task = asyncio.create_task(self._forward(data, addr))
        self._forwarding.add(task)
        task.add_done_callback(self._forwarded)

    def _forwarded(self, task: asyncio.Task[None]) -> None:
        self._forwarding.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("forwarding a DNS query failed: %r", task.exception())

    async def _forward(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self._responder.respond(data)
        if self._transport is not None:
            self._transport.sendto(reply, addr)
