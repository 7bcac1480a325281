"""Small async helpers shared by the kubelet's tests: waiting for a condition, one HTTP GET."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, every: float = 0.05
) -> None:
    """Wait until `check()` is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(every)


async def http_get(host: str, port: int, path: str = "/") -> tuple[int, bytes]:
    """Status and body of one HTTP/1.0 GET (no proxy settings involved: only our own pods)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body
