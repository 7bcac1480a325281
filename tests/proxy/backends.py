"""Tiny TCP servers that answer with the address they serve on: stand-ins for pods in a namespace."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Iterator


class _Hello(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        address, _ = self.request.getsockname()  # the address it was reached on, after any DNAT
        self.request.sendall(address.encode())


@contextlib.contextmanager
def serving(addresses: list[str], port: int) -> Iterator[None]:
    servers = [socketserver.ThreadingTCPServer((address, port), _Hello) for address in addresses]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def ask(address: str, port: int, timeout: float = 2.0) -> str:
    """Which backend answered a connection to address:port."""
    with socket.create_connection((address, port), timeout=timeout) as connection:
        return connection.recv(64).decode()
