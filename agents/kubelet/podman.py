"""The Runtime on Podman: sandboxes are Podman pods, containers join them; via podman-py.

Why podman-py against a Podman API service (podman_service.py) rather than the CLI: one long-lived
connection, structured answers, and a relist of every container of the node costs one request.

Concurrency: podman-py is blocking (requests over a unix socket). Every call runs in a thread of
this runtime's own pools, so the event loop never blocks: quick calls (list, create, start,
inspect) on one pool, calls that may wait for a long time (stop within a grace period, removal,
image pulls, exec) on another, so many pods terminating at once cannot delay the relist. The
requests session is shared by those threads; its connection pool is sized to both pools. The
small caches below are touched from several threads; a lost update only costs an extra inspect.

Mapping, and why:
- Sandbox = Podman pod with an infra container holding the network namespace (pod IP on the
  default bridge network); hostPorts become the pod's port mappings, since containers joining a pod
  cannot publish ports of their own.
- Kubernetes `command` replaces the image ENTRYPOINT and `args` its CMD; Podman drops the image's
  CMD when an entrypoint is given, which is Kubernetes' rule too.
- cpu limit -> cpu_period/cpu_quota (podman-py silently drops nano_cpus); memory limit -> mem_limit.
- Registries on loopback are pulled from without TLS (a local docker-registry in labs and tests).
- Logs do not go through podman-py (see podman_logs.py): a followed stream must be cancellable.
- Podman reports times of listed containers in whole seconds; the kubelet's status has seconds
  resolution too. Why an exited container exited (OOM) needs an inspect; it is done once per exited
  container and cached, since a dead container never changes.

Failures: every podman-py or transport error leaves this module as a `RuntimeFailure` subclass
(runtime.py); nothing is retried here, the pod workers retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar, cast

import requests
from podman import PodmanClient
from podman.errors import APIError, ImageNotFound, NotFound

from agents.kubelet import runtime as rt
from agents.kubelet.podman_logs import container_logs
from agents.kubelet.runtime import (
    ContainerConfig,
    ContainerInfo,
    ContainerState,
    ExecResult,
    PodRef,
    RuntimePods,
    SandboxConfig,
    SandboxInfo,
)

T = TypeVar("T")

CPU_PERIOD_US = 100_000
MIN_CPU_QUOTA_US = 1_000  # the kernel's floor, and Kubernetes'
_STATES = {
    "running": ContainerState.RUNNING,
    "paused": ContainerState.RUNNING,
    "stopping": ContainerState.RUNNING,
    "exited": ContainerState.EXITED,
    "stopped": ContainerState.EXITED,
    "created": ContainerState.CREATED,
    "configured": ContainerState.CREATED,
    "initialized": ContainerState.CREATED,
}


def sandbox_name(config: SandboxConfig) -> str:
    pod = config.pod
    return f"rk_{pod.namespace}_{pod.name}_{pod.uid}_{config.attempt}"


def container_name(config: ContainerConfig) -> str:
    pod = config.pod
    return f"rk_{config.name}_{pod.namespace}_{pod.name}_{pod.uid}_{config.restart_count}"


def registry_is_loopback(image: str) -> bool:
    """True for images on localhost/127.0.0.0/8/[::1] registries: those are pulled without TLS."""
    first, sep, _ = image.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return False  # no registry part: a short name
    host = first.rsplit(":", 1)[0] if not first.endswith("]") else first
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cpu_quota(millicores: int) -> int:
    return max(MIN_CPU_QUOTA_US, millicores * CPU_PERIOD_US // 1000)


def create_kwargs(config: ContainerConfig, sandbox_id: str, node: str) -> dict[str, Any]:
    """podman-py `containers.create` keyword arguments for one container instance (pure)."""
    kwargs: dict[str, Any] = {
        "name": container_name(config),
        "pod": sandbox_id,
        "labels": {
            **_pod_labels(config.pod, node),
            rt.LABEL_CONTAINER_NAME: config.name,
            rt.LABEL_RESTART_COUNT: str(config.restart_count),
        },
        "environment": dict(config.env),
        "stop_timeout": config.stop_timeout,
    }
    if config.command:
        kwargs["entrypoint"] = list(config.command)
    if config.working_dir:
        kwargs["working_dir"] = config.working_dir
    if config.memory_limit_bytes is not None:
        kwargs["mem_limit"] = config.memory_limit_bytes
    if config.cpu_limit_millicores is not None:
        kwargs["cpu_period"] = CPU_PERIOD_US
        kwargs["cpu_quota"] = cpu_quota(config.cpu_limit_millicores)
    if config.mounts:
        kwargs["mounts"] = [{"type": "bind", "source": m.source, "target": m.target, "read_only": m.read_only}
                            for m in config.mounts]  # fmt: skip
    return kwargs


def _pod_labels(pod: PodRef, node: str) -> dict[str, str]:
    return {
        rt.LABEL_POD_UID: pod.uid,
        rt.LABEL_POD_NAMESPACE: pod.namespace,
        rt.LABEL_POD_NAME: pod.name,
        rt.LABEL_NODE: node,
    }


def _epoch(value: Any) -> float:
    """Podman's times (epoch seconds or RFC 3339) as epoch seconds; 0 for "never" (year 1)."""
    if isinstance(value, int | float):
        return float(value) if value > 0 else 0.0
    if not value:
        return 0.0
    seconds = datetime.fromisoformat(str(value)).timestamp()
    return seconds if seconds > 0 else 0.0


def _translated(fn: Callable[..., T]) -> Callable[..., T]:
    """Turn podman-py's and the transport's exceptions into RuntimeFailures (runs in the worker thread)."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except (NotFound, ImageNotFound) as err:
            raise rt.ObjectMissing(str(err)) from err
        except APIError as err:
            if err.status_code == 409 or "already in use" in str(err):
                raise rt.NameInUse(str(err)) from err
            raise rt.RuntimeFailure(str(err)) from err
        except requests.exceptions.ConnectionError as err:
            raise rt.RuntimeUnavailable(f"podman service unreachable: {err}") from err

    return call


STOP_SLACK = 60.0  # seconds a stop request may take beyond the grace period


class PodmanRuntime:
    """`Runtime` for one node against the Podman API service at `socket_path`."""

    def __init__(self, socket_path: str, node_name: str, *, quick_threads: int = 8, slow_threads: int = 64):
        self.node_name = node_name
        self._socket_path = socket_path
        self._client = PodmanClient(
            base_url=f"unix://{socket_path}", max_pool_size=quick_threads + slow_threads
        )
        self._quick = ThreadPoolExecutor(quick_threads, thread_name_prefix=f"podman-{node_name}")
        self._slow = ThreadPoolExecutor(slow_threads, thread_name_prefix=f"podman-slow-{node_name}")
        self._ips: dict[str, str] = {}  # sandbox id -> IP: fixed for the sandbox's lifetime
        self._exits: dict[str, tuple[str, float, float]] = {}  # dead container id -> reason, times

    async def close(self) -> None:
        self._quick.shutdown(wait=False, cancel_futures=True)
        self._slow.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self._client.close)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(_translated(fn), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._quick, call)

    async def _run_slow(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        call = functools.partial(_translated(fn), *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._slow, call)

    def _node_filter(self, pod_uid: str | None) -> list[str]:
        filters = [f"label={rt.LABEL_NODE}={self.node_name}"]
        if pod_uid:
            filters.append(f"label={rt.LABEL_POD_UID}={pod_uid}")
        return filters

    # -- images ------------------------------------------------------------------------------

    async def version(self) -> str:
        info = await self._run(self._client.version)
        return f"podman://{info['Version']}"

    async def image_present(self, image: str) -> bool:
        return await self._run(self._client.images.exists, image)

    async def pull_image(self, image: str) -> None:
        await self._run_slow(self._pull, image)

    async def list_images(self) -> list[tuple[list[str], int]]:
        images = await self._run(self._client.images.list)
        return [(list(image.tags), int(image.attrs.get("Size", 0))) for image in images if image.tags]

    def _pull(self, image: str) -> None:
        try:
            progress = cast(
                Iterator[dict[str, Any]],
                self._client.images.pull(
                    image, tls_verify=not registry_is_loopback(image), stream=True, decode=True
                ),
            )
            for line in progress:
                if isinstance(line, dict) and line.get("error"):
                    raise rt.ImagePullFailed(str(line["error"]))
        except APIError as err:  # e.g. a reference Podman cannot parse
            raise rt.ImagePullFailed(str(err)) from err

    # -- sandboxes ---------------------------------------------------------------------------

    async def run_sandbox(self, config: SandboxConfig) -> SandboxInfo:
        return await self._run(self._run_sandbox, config)

    def _run_sandbox(self, config: SandboxConfig) -> SandboxInfo:
        pod = self._client.pods.create(
            sandbox_name(config),
            labels={**_pod_labels(config.pod, self.node_name), rt.LABEL_SANDBOX_ATTEMPT: str(config.attempt)},
            hostname=config.hostname,
            portmappings=[
                {
                    "container_port": p.container_port,
                    "host_port": p.host_port,
                    "protocol": p.protocol,
                    **({"host_ip": p.host_ip} if p.host_ip else {}),
                }
                for p in config.port_mappings
            ],
            **_dns(config.dns),
        )
        try:
            pod.start()
        except APIError:
            pod.remove(force=True)
            raise
        pod.reload()
        return SandboxInfo(
            id=pod.id,
            pod_uid=config.pod.uid,
            ready=True,
            attempt=config.attempt,
            ip=self._infra_ip(pod.id, pod.attrs["InfraContainerID"]),
            created_at=_epoch(pod.attrs.get("Created")),
        )

    def _infra_ip(self, sandbox_id: str, infra_id: str) -> str:
        if sandbox_id not in self._ips:
            attrs = self._client.containers.get(infra_id).attrs
            settings = attrs.get("NetworkSettings") or {}
            ips = [n.get("IPAddress", "") for n in (settings.get("Networks") or {}).values()]
            ip = next((i for i in ips if i), settings.get("IPAddress", ""))
            if not ip:
                return ""  # not up yet; ask again next time
            self._ips[sandbox_id] = ip
        return self._ips[sandbox_id]

    async def remove_sandbox(self, sandbox_id: str, grace_seconds: int) -> None:
        await self._run_slow(self._remove_sandbox, sandbox_id, grace_seconds)

    def _remove_sandbox(self, sandbox_id: str, grace_seconds: int) -> None:
        with contextlib.suppress(NotFound):  # already gone: what we wanted
            pod = self._client.pods.get(sandbox_id)
            pod.stop(timeout=max(1, grace_seconds))  # Podman 4.3 reads a pod stop timeout of 0 as 10 s
            pod.remove(force=True)
        self._ips.pop(sandbox_id, None)

    # -- containers --------------------------------------------------------------------------

    async def create_container(self, sandbox_id: str, config: ContainerConfig) -> str:
        kwargs = create_kwargs(config, sandbox_id, self.node_name)
        command = list(config.args) or None
        container = await self._run(self._client.containers.create, config.image, command, **kwargs)
        return str(container.id)

    def _container(self, container_id: str) -> Any:
        return self._client.containers.prepare_model(attrs={"Id": container_id, "Name": container_id})

    async def start_container(self, container_id: str) -> None:
        try:
            await self._run(self._container(container_id).start)
        except (rt.ObjectMissing, rt.RuntimeUnavailable):
            raise
        except rt.RuntimeFailure as err:
            raise rt.StartFailed(str(err)) from err

    async def stop_container(self, container_id: str, grace_seconds: int) -> None:
        await self._run_slow(self._stop_container, container_id, grace_seconds)

    def _stop_container(self, container_id: str, grace_seconds: int) -> None:
        """SIGTERM, SIGKILL after the grace period. Not podman-py's stop(), which gives the request
        1.5 times the grace period: less than a busy Podman takes to kill and clean up."""
        response = self._client.api.post(
            f"/containers/{container_id}/stop",
            params={"timeout": grace_seconds},
            timeout=grace_seconds + STOP_SLACK,
        )
        response.raise_for_status()  # 304 (already stopped) is not an error

    async def remove_container(self, container_id: str) -> None:
        with contextlib.suppress(rt.ObjectMissing):  # already gone: what we wanted
            await self._run_slow(self._client.containers.remove, container_id, force=True)
        self._exits.pop(container_id, None)

    async def list_pods(self, pod_uid: str | None = None) -> RuntimePods:
        return await self._run(self._list_pods, pod_uid)

    def _list_pods(self, pod_uid: str | None) -> RuntimePods:
        # One container listing serves both: a pod's infra container carries the pod's labels and
        # its state is the sandbox's. (Podman spends ~1.5 ms per container on every list.)
        listed = [c.attrs for c in self._client.containers.list(all=True, filters=self._node_filter(pod_uid))]
        sandboxes = tuple(self._sandbox(attrs) for attrs in listed if attrs.get("IsInfra"))
        containers = tuple(self._info(attrs) for attrs in listed if not attrs.get("IsInfra"))
        if pod_uid is None:  # a full relist: forget what we cached about objects that are gone
            alive = {c.id for c in containers} | {s.id for s in sandboxes}
            self._ips = {k: v for k, v in self._ips.items() if k in alive}
            self._exits = {k: v for k, v in self._exits.items() if k in alive}
        return RuntimePods(sandboxes, containers)

    def _sandbox(self, infra: dict[str, Any]) -> SandboxInfo:
        labels = infra.get("Labels") or {}
        sandbox_id = str(infra.get("Pod", ""))
        ready = str(infra.get("State", "")).lower() == "running"
        return SandboxInfo(
            id=sandbox_id,
            pod_uid=labels.get(rt.LABEL_POD_UID, ""),
            ready=ready,
            attempt=int(labels.get(rt.LABEL_SANDBOX_ATTEMPT, "0")),
            ip=self._infra_ip(sandbox_id, infra["Id"]) if ready else "",
            created_at=_epoch(infra.get("Created")),
        )

    def _info(self, attrs: dict[str, Any]) -> ContainerInfo:
        labels = attrs.get("Labels") or {}
        state = _STATES.get(str(attrs.get("State", "")).lower(), ContainerState.UNKNOWN)
        started, finished, reason = _epoch(attrs.get("StartedAt")), _epoch(attrs.get("ExitedAt")), ""
        if state is ContainerState.EXITED:
            reason, started, finished = self._exit_details(attrs["Id"])
        image_id = str(attrs.get("ImageID", ""))
        return ContainerInfo(
            id=attrs["Id"],
            pod_uid=labels.get(rt.LABEL_POD_UID, ""),
            sandbox_id=str(attrs.get("Pod", "")),
            name=labels.get(rt.LABEL_CONTAINER_NAME, ""),
            restart_count=int(labels.get(rt.LABEL_RESTART_COUNT, "0")),
            state=state,
            image=str(attrs.get("Image", "")),
            image_id=f"sha256:{image_id}" if image_id else "",
            exit_code=int(attrs.get("ExitCode", 0)),
            reason=reason,
            created_at=_epoch(attrs.get("Created")),
            started_at=started,
            finished_at=finished,
            labels=labels,
        )

    def _exit_details(self, container_id: str) -> tuple[str, float, float]:
        if container_id not in self._exits:
            state = self._client.containers.get(container_id).attrs["State"]
            reason = "OOMKilled" if state.get("OOMKilled") else ""
            self._exits[container_id] = reason, _epoch(state["StartedAt"]), _epoch(state["FinishedAt"])
        return self._exits[container_id]

    async def exec(self, container_id: str, command: Sequence[str], timeout: float) -> ExecResult:
        """Run `command` in the container. On timeout the exec is abandoned, not killed (Podman has no
        API for that); its thread returns when the command ends. Podman keeps each API exec session
        (and its conmon) for ~5 minutes, which also makes removing that container ~3 s slower."""
        container = self._container(container_id)
        async with asyncio.timeout(timeout):  # demuxed: the raw stream carries 8-byte frame headers
            code, (stdout, stderr) = await self._run_slow(container.exec_run, list(command), demux=True)
        return ExecResult(
            exit_code=int(code if code is not None else -1), output=(stdout or b"") + (stderr or b"")
        )

    def logs(
        self, container_id: str, *, tail: int | None = None, follow: bool = False
    ) -> AsyncIterator[bytes]:
        return container_logs(self._socket_path, container_id, tail=tail, follow=follow)


def _dns(dns: rt.DnsConfig | None) -> dict[str, list[str]]:
    """A pod's resolver settings, as Podman's pod spec takes them (its infra container's resolv.conf)."""
    if dns is None:
        return {}
    return {
        "dns_server": list(dns.servers),
        "dns_search": list(dns.searches),
        "dns_option": list(dns.options),
    }
