"""One worker per pod, keeping only the newest desired state (Kubernetes' pod_workers).

`update(uid, pod)` is what the kubelet's loop calls for every reason to look at a pod (watch event,
container event, probe change, resync). It never waits: it stores `pod` as the pod's desired state,
replacing whatever was pending, and wakes the pod's worker (starting one if needed). So a burst of
events costs one sync, with the newest spec.

A worker syncs its pod until the pod is to go, then terminates it, retrying until that succeeds:
- `pod` with a deletionTimestamp: terminate, then finish the deletion in the API.
- `pod` None: the pod is gone from the API (or is an orphan): terminate, nothing to delete.
Termination is one-way: once begun, newer updates only refresh the pod (e.g. a shorter grace; a
pod that vanished from the API meanwhile is killed with the orphans' 1 s grace).
When termination succeeded the worker ends; updates for that uid are ignored until the API confirms
the pod is gone (an `update(uid, None)`), so late events do not restart a finished pod.

Failures (RuntimeFailure, ApiError) are logged and retried after a back-off (1 s doubling to 30 s);
anything else is a bug and propagates to the TaskGroup that owns the workers. A sync may ask to be
run again after some seconds (a restart back-off ends); the worker sleeps until then or the next
update, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from agents.kubelet.runtime import RuntimeFailure
from cluster.errors import ApiError
from raykube.v1 import pod_pb2

log = logging.getLogger(__name__)

SyncFn = Callable[[pod_pb2.Pod], Awaitable[float | None]]
TerminateFn = Callable[[str, pod_pb2.Pod | None], Awaitable[None]]
Spawn = Callable[[Coroutine[Any, Any, None]], "asyncio.Task[None]"]


def is_terminating(pod: pod_pb2.Pod | None) -> bool:
    return pod is None or pod.metadata.HasField("deletion_timestamp")


class _Worker:
    def __init__(self, pod: pod_pb2.Pod | None):
        self.pod = pod
        self.terminating = is_terminating(pod)
        self.wake = asyncio.Event()
        self.wake.set()


class PodWorkers:
    def __init__(
        self,
        sync: SyncFn,
        terminate: TerminateFn,
        spawn: Spawn,
        *,
        retry: tuple[float, float] = (1.0, 30.0),
    ):
        self._sync = sync
        self._terminate = terminate
        self._spawn = spawn
        self._retry = retry
        self._workers: dict[str, _Worker] = {}
        self._finished: set[str] = set()  # terminated; waiting for the API to confirm the pod is gone

    def __contains__(self, uid: str) -> bool:
        return uid in self._workers

    def __len__(self) -> int:
        return len(self._workers)

    def update(self, uid: str, pod: pod_pb2.Pod | None) -> None:
        if uid in self._finished:
            if pod is None:
                self._finished.discard(uid)
            return
        worker = self._workers.get(uid)
        if worker is None:
            worker = self._workers[uid] = _Worker(pod)
            self._spawn(self._run(uid, worker))
            return
        worker.pod = pod
        worker.terminating = worker.terminating or is_terminating(pod)
        worker.wake.set()

    async def _run(self, uid: str, worker: _Worker) -> None:
        delay: float | None = None
        failures = 0
        while True:
            if delay is None:
                await worker.wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await worker.wake.wait()
            worker.wake.clear()
            pod = worker.pod
            try:
                if worker.terminating:
                    await self._terminate(uid, pod)
                    break
                assert pod is not None  # only termination runs without a pod
                delay = await self._sync(pod)
                failures = 0
            except (RuntimeFailure, ApiError) as err:
                delay = min(self._retry[0] * 2**failures, self._retry[1])
                failures += 1
                what = "terminating" if worker.terminating else "syncing"
                log.warning("%s pod %s failed (retry in %.1fs): %s", what, uid, delay, err)
        del self._workers[uid]
        if pod is not None:
            self._finished.add(uid)
