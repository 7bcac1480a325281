"""Running one probe: exec in the container, HTTP GET or TCP connect to the pod IP.

Kubernetes semantics: exec succeeds on exit code 0; httpGet on a status from 200 to 399 (HTTPS
without certificate verification, as the kubelet does); tcpSocket when the connection opens. Every
probe is bounded by timeoutSeconds (default 1); a timeout or any network/runtime error is a
failure, never an exception: a probe answers, it does not fail the caller.

Network probes go to the pod IP (or the probe's `host`), port by number or by the container's named
port. The HTTP client is minimal on purpose (one request, read the status line): it cannot follow a
proxy setting from the environment and never leaves the node.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field

from agents.kubelet.runtime import Runtime, RuntimeFailure
from raykube.v1 import pod_pb2

DEFAULT_TIMEOUT = 1.0


@dataclass(frozen=True)
class ProbeTarget:
    container_id: str
    pod_ip: str
    ports: dict[str, int] = field(default_factory=dict)  # named container ports


class ProbeError(Exception):
    """A probe that cannot be run as written (e.g. an unknown named port)."""


def resolve_port(port: str, target: ProbeTarget) -> int:
    if port.isdigit():
        return int(port)
    if port in target.ports:
        return target.ports[port]
    raise ProbeError(f"unknown named port {port!r}")


def timeout_of(probe: pod_pb2.Probe) -> float:
    return float(probe.timeout_seconds) if probe.timeout_seconds > 0 else DEFAULT_TIMEOUT


class Prober:
    def __init__(self, runtime: Runtime):
        self._runtime = runtime

    async def probe(self, probe: pod_pb2.Probe, target: ProbeTarget) -> bool:
        timeout = timeout_of(probe)
        try:
            async with asyncio.timeout(timeout):
                if probe.HasField("exec"):
                    result = await self._runtime.exec(target.container_id, list(probe.exec.command), timeout)
                    return result.exit_code == 0
                if probe.HasField("http_get"):
                    return await _http_get(probe.http_get, target)
                if probe.HasField("tcp_socket"):
                    return await _tcp_connect(probe.tcp_socket, target)
                raise ProbeError("probe has no handler (exec, httpGet or tcpSocket)")
        except (TimeoutError, OSError, RuntimeFailure, ProbeError):
            return False


async def _tcp_connect(action: pod_pb2.TCPSocketAction, target: ProbeTarget) -> bool:
    _, writer = await asyncio.open_connection(action.host or target.pod_ip, resolve_port(action.port, target))
    writer.close()
    await writer.wait_closed()
    return True


async def _http_get(action: pod_pb2.HTTPGetAction, target: ProbeTarget) -> bool:
    host = action.host or target.pod_ip
    port = resolve_port(action.port, target)
    tls = None
    if action.scheme.upper() == "HTTPS":
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, port, ssl=tls)
    try:
        path = action.path or "/"
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: raykube-probe/1.0\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await reader.readline()
    finally:
        writer.close()
    parts = status_line.split()
    return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
