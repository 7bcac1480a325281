"""Container logs read straight from the Podman API socket with asyncio.

Why not podman-py here: its log stream is a blocking read in a worker thread, and the only way to
abandon a followed stream (the caller went away) is to close the response from another thread,
which blocks on the very lock the reading thread holds: the event loop would freeze. An asyncio
connection is cancelled like any other await and closes its socket at once.

The request is HTTP/1.0, so the service sends the body unchunked and ends it by closing the
connection. The body is Docker's multiplexed stream (containers have no TTY): frames of an 8-byte
header (stream, 0, 0, 0, big-endian length) and that many bytes; stdout and stderr are
interleaved in the order Podman recorded them.

Errors: no such container -> ObjectMissing; socket unreachable -> RuntimeUnavailable; any other
non-200 answer -> RuntimeFailure with the service's message.
"""

from __future__ import annotations

import asyncio
import json
import struct
import urllib.parse
from collections.abc import AsyncIterator

from agents.kubelet.runtime import ObjectMissing, RuntimeFailure, RuntimeUnavailable

API_PREFIX = "/v4.0.0/libpod"
_FRAME_HEADER = struct.Struct(">BxxxL")


async def container_logs(
    socket_path: str, container_id: str, *, tail: int | None = None, follow: bool = False
) -> AsyncIterator[bytes]:
    query = urllib.parse.urlencode(
        {
            "stdout": "true",
            "stderr": "true",
            "follow": str(follow).lower(),
            "tail": "all" if tail is None else str(tail),
        }
    )
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path)
    except OSError as err:
        raise RuntimeUnavailable(f"podman service unreachable: {err}") from err
    try:
        path = f"{API_PREFIX}/containers/{urllib.parse.quote(container_id)}/logs?{query}"
        writer.write(f"GET {path} HTTP/1.0\r\nHost: podman\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status != 200:
            _raise_for(status, await reader.read(), container_id)
        while True:
            try:
                header = await reader.readexactly(_FRAME_HEADER.size)
            except asyncio.IncompleteReadError:
                return  # the service closed the stream: all logs sent, or the container stopped
            _, length = _FRAME_HEADER.unpack(header)
            if length:
                yield await reader.readexactly(length)
    finally:
        writer.close()


def _raise_for(status: int, body: bytes, container_id: str) -> None:
    try:
        message = str(json.loads(body).get("message", body))
    except ValueError:
        message = body.decode(errors="replace")
    if status == 404:
        raise ObjectMissing(f"container {container_id}: {message}")
    raise RuntimeFailure(f"logs of container {container_id}: HTTP {status}: {message}")
