"""Leader election through a Lease object, as client-go's leaderelection does.

Replicas of a component (the scheduler, the controller manager) each run `LeaderElector.run(lead)`:
one at a time holds the Lease `<namespace>/<name>` and runs `lead()`; the others wait.

- Acquire: create the Lease, or take it over when its holder has not renewed it for
  `lease_duration` seconds. Expiry is judged by this replica's own clock from the moment it last
  saw the Lease change (client-go's observedTime), so clocks of different hosts need not agree.
- Renew: every `retry_period` the leader writes renewTime. If it cannot renew for `renew_deadline`
  seconds, it has lost the lease (another may have taken it): `lead()` is cancelled and `run()`
  raises LeadershipLost; the component should exit and start over as a standby.
- Release: when `run()` ends otherwise (cancelled, or `lead()` returned or failed), the leader
  gives the Lease up (no holder, 1 s duration), so a standby takes over at once.
Every write is conditioned on the resourceVersion read, so two candidates never both win.
A standby takes over within lease_duration + retry_period of the leader's last renewal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import resources
from cluster.client.api import ApiClient
from cluster.errors import AlreadyExists, ApiError, Conflict, NotFound
from raykube.v1 import coordination_pb2

log = logging.getLogger(__name__)


class LeadershipLost(RuntimeError):
    """The leader could not renew its Lease in time; another replica may lead now."""


@dataclass(frozen=True)
class LeaderElectionConfig:
    name: str  # the Lease's name: "kube-scheduler", "kube-controller-manager"
    identity: str  # this replica, unique: "<host>_<uuid>"
    namespace: str = "kube-system"
    # Kubernetes' defaults. Shorter ones (8/6/1 s) made a busy leader lose its Lease whenever the
    # API server answered slower than the renew deadline under load (seen in scheduler_perf).
    lease_duration: float = 15.0  # seconds a standby waits after the last renewal it saw
    renew_deadline: float = 10.0  # seconds the leader keeps trying to renew before giving up
    retry_period: float = 2.0  # seconds between attempts


def _stamp(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


class LeaderElector:
    def __init__(
        self,
        client: ApiClient,
        config: LeaderElectionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._observed: tuple[str, float] | None = None  # (holder + renew time seen, when first seen)
        self._renewed = 0.0  # when this replica last wrote the Lease as its holder (own clock)
        self.leading = asyncio.Event()

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Wait for the Lease, then run `lead()` while renewing it; see the module docstring."""
        config = self._config
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(config.retry_period)
        self._renewed = self._clock()
        log.info("%s: %s became the leader", config.name, config.identity)
        self.leading.set()
        try:
            async with asyncio.TaskGroup() as tasks:
                renewing = tasks.create_task(self._renew(), name=f"{config.name} lease renewal")
                await lead()
                renewing.cancel()
        except* LeadershipLost:
            raise LeadershipLost(
                f"{config.identity} lost the {config.namespace}/{config.name} lease"
            ) from None
        finally:
            self.leading.clear()
            await self._release()

    def valid(self) -> bool:
        """Whether this replica may act as the leader right now: it leads and renewed within
        renew_deadline, by its own clock. Work that keeps the event loop busy asks before each
        step: a leader too busy to run its renewals must stop at once, not when the renewal task
        next runs, by which time a standby may have taken the expired Lease."""
        return self.leading.is_set() and self._clock() - self._renewed <= self._config.renew_deadline

    async def _renew(self) -> None:
        config = self._config
        while True:
            await asyncio.sleep(config.retry_period)
            if await self._try_acquire_or_renew():
                self._renewed = self._clock()
            elif self._clock() - self._renewed > config.renew_deadline:
                log.error("%s: %s failed to renew its lease; stepping down", config.name, config.identity)
                raise LeadershipLost(config.name)

    async def _try_acquire_or_renew(self) -> bool:
        config, now = self._config, self._wall_clock()
        try:
            current = await self._client.get(resources.LEASES, config.namespace, config.name)
        except NotFound:
            lease = coordination_pb2.Lease()
            lease.metadata.name, lease.metadata.namespace = config.name, config.namespace
            self._hold(lease, now, transitions=0)
            try:
                await self._client.create(lease)
            except (AlreadyExists, ApiError) as err:
                log.debug("%s: creating the lease failed: %s", config.name, err)
                return False
            return True
        except ApiError as err:
            log.debug("%s: reading the lease failed: %s", config.name, err)
            return False
        assert isinstance(current, coordination_pb2.Lease)
        spec = current.spec
        seen = f"{spec.holder_identity}@{spec.renew_time.ToNanoseconds()}"
        if self._observed is None or self._observed[0] != seen:
            self._observed = (seen, self._clock())
        mine = spec.holder_identity == config.identity
        expired = self._clock() > self._observed[1] + (spec.lease_duration_seconds or config.lease_duration)
        if spec.holder_identity and not mine and not expired:
            return False
        self._hold(current, now, transitions=spec.lease_transitions + (0 if mine else 1), keep_acquired=mine)
        try:
            await self._client.update(current)  # conditioned on the resourceVersion read
        except (Conflict, ApiError) as err:
            log.debug("%s: updating the lease failed: %s", config.name, err)
            return False
        return True

    def _hold(
        self, lease: coordination_pb2.Lease, now: float, *, transitions: int, keep_acquired: bool = False
    ) -> None:
        spec = lease.spec
        spec.holder_identity = self._config.identity
        spec.lease_duration_seconds = round(self._config.lease_duration)
        if not keep_acquired:
            spec.acquire_time.CopyFrom(_stamp(now))
        spec.renew_time.CopyFrom(_stamp(now))
        spec.lease_transitions = transitions

    async def _release(self) -> None:
        """Give the Lease up if this replica still holds it (best effort: it expires anyway)."""
        config = self._config
        with contextlib.suppress(ApiError, asyncio.CancelledError):
            current = await self._client.get(resources.LEASES, config.namespace, config.name)
            assert isinstance(current, coordination_pb2.Lease)
            if current.spec.holder_identity == config.identity:
                current.spec.holder_identity = ""
                current.spec.lease_duration_seconds = 1
                await self._client.update(current)
                log.info("%s: %s released the lease", config.name, config.identity)
