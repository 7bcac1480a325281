"""Run a test's body in a network namespace of its own, so real nftables rules and real sockets
touch nothing of the host's (nor a cluster running next to the tests).

The body runs in a fresh interpreter (multiprocessing's spawn: no inherited gRPC or event loop
state) that first unshares its network namespace and brings up `lo` and a bridge (with no ports) holding
`ADDRESSES`; the namespace dies with that process, which this helper always stops.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import subprocess
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NODE_IP = "10.244.9.1"  # the namespace's "primary address", where NodePorts answer
ADDRESSES = [NODE_IP, "10.244.9.2", "10.244.9.3", "10.244.9.4"]  # .2-.4 stand in for pod IPs


def run_isolated(body: Callable[..., T], *args: Any, timeout: float = 60.0) -> T:
    """`body(*args)` in a new network namespace; its result, or its exception re-raised here."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_enter, args=(body, args, results))
    process.start()
    try:
        ok, value = results.get(timeout=timeout)
    finally:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    if not ok:
        raise AssertionError(f"in the isolated namespace:\n{value}")
    return value


def _enter(body: Callable[..., Any], args: tuple[Any, ...], results: Any) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        _ip("link", "set", "lo", "up")
        _ip("link", "add", "pods0", "type", "bridge")
        for address in ADDRESSES:
            _ip("addr", "add", f"{address}/24", "dev", "pods0")
        _ip("link", "set", "pods0", "up")
        _ip("route", "add", "default", "dev", "pods0")  # as a host has: ClusterIPs are routed somewhere
        results.put((True, body(*args)))
    except BaseException:
        results.put((False, traceback.format_exc()))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)
