"""The Podman API service the kubelet talks to, as a child process of the kubelet.

`podman system service --time=0 unix://<socket>` runs with CONTAINERS_CONF pointing at the
project's own containers.conf (runc; rlimits this machine allows), so nothing on the machine is
configured by hand or modified.

Lifetime: the child is started with PR_SET_PDEATHSIG, so the kernel kills it when the thread that
started it dies (a crashed kubelet leaves no service behind). That is the starting *thread*, not
process: call `start()` on a thread that lives as long as the service should (the event loop's
thread; never from a worker thread). `stop()` ends it by its PID: SIGTERM, then SIGKILL.
Containers outlive the service (their conmon monitors are not its children), like pods outlive a
restarted CRI runtime.

Readiness: `start()` returns once the socket answers `/_ping`; if the child exits first, or does
not answer in time, it raises `PodmanServiceError` with the tail of the child's output.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO

CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
_PR_SET_PDEATHSIG = 1


class PodmanServiceError(Exception):
    """The Podman API service did not come up."""


def _die_with_parent() -> None:
    """preexec_fn: the kernel sends SIGKILL to this child when its parent thread exits."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


async def ping(socket_path: str | Path) -> bool:
    """True when a Podman API service answers on `socket_path`."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(socket_path))
    except OSError:
        return False
    try:
        writer.write(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
        await writer.drain()
        status_line = await reader.readline()
    except OSError:
        return False
    finally:
        writer.close()
    return status_line.split(b" ")[1:2] == [b"200"]


class PodmanService:
    """One `podman system service` child process serving `socket_path`."""

    def __init__(
        self,
        socket_path: str | Path,
        *,
        containers_conf: str | Path = CONTAINERS_CONF,
        podman: str = "podman",
    ):
        self.socket_path = Path(socket_path)
        self._conf = Path(containers_conf)
        self._podman = podman
        self._process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def env(self) -> dict[str, str]:
        """The environment for podman commands that should see the same configuration."""
        return {**os.environ, "CONTAINERS_CONF": str(self._conf)}

    async def start(self, timeout: float = 30.0) -> None:
        if self._process is not None:
            raise PodmanServiceError(f"already started (pid {self._process.pid})")
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)
        self._output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self._process = subprocess.Popen(
            [self._podman, "system", "service", "--time=0", self.url],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only a prctl call: safe between fork and exec
            start_new_session=True,  # a terminal's ^C reaches the kubelet, which stops us by PID
        )
        deadline = time.monotonic() + timeout
        while not await ping(self.socket_path):
            if self._process.poll() is not None:
                output = self._tail()
                await self.stop()
                raise PodmanServiceError(f"podman system service exited: {output}")
            if time.monotonic() > deadline:
                await self.stop()
                raise PodmanServiceError(f"podman system service did not answer within {timeout}s")
            await asyncio.sleep(0.05)

    def _tail(self) -> str:
        if self._output is None:
            return ""
        self._output.seek(0)
        return self._output.read()[-2000:].decode(errors="replace")

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the service by PID, SIGKILL it if it has not exited within `timeout`."""
        process, self._process = self._process, None
        output, self._output = self._output, None
        if output is not None:
            output.close()
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.poll() is None:
                process.kill()
                await asyncio.to_thread(process.wait)
        self.socket_path.unlink(missing_ok=True)

    async def __aenter__(self) -> PodmanService:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
