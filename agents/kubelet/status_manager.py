"""The one writer of pod statuses on this node (Kubernetes' status_manager).

Pod workers call `set(pod, status)` after every sync; that only records the newest status and
wakes the writer. The writer task sends `UpdateStatus` for pods whose status changed, one at a
time, so for one pod writes never overtake each other.

Invariants:
- A write happens only when the status differs from the last one written (or, for a pod this
  kubelet has not written yet, from the status the API server has). Status messages are computed
  deterministically (pod_status.py), so "differs" means a real change.
- The newest status wins: each `set` bumps a version; a write that raced with a newer `set` leaves
  the pod marked for another write of the newer status. Nothing older is ever sent after newer.
- The write carries the resourceVersion of the freshest copy of the pod known (the informer's,
  or the API server's answer to the last write). On Conflict the pod is read again and the write
  repeated, unless its uid changed: a new pod under the same name never gets the old pod's status.
  NotFound means the pod is gone: its status is forgotten.
- Other API errors keep the pod marked; the writer retries after `retry_delay`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cluster.api.resources import PODS
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import pod_pb2

log = logging.getLogger(__name__)
CONFLICT_RETRIES = 3


@dataclass
class _Entry:
    pod: pod_pb2.Pod  # freshest copy known: namespace, name, uid, resourceVersion
    status: pod_pb2.PodStatus  # the newest status set
    version: int = 0


def _newer(a: pod_pb2.Pod, b: pod_pb2.Pod) -> bool:
    """Whether `a` is a later copy of the pod than `b` (resourceVersions are store revisions)."""
    ra, rb = a.metadata.resource_version, b.metadata.resource_version
    return ra.isdigit() and rb.isdigit() and int(ra) > int(rb)


class StatusManager:
    def __init__(self, client: ApiClient, *, retry_delay: float = 1.0):
        self._client = client
        self._retry_delay = retry_delay
        self._entries: dict[str, _Entry] = {}
        self._dirty: dict[str, None] = {}  # uids to write, in order of their first change
        self._wake = asyncio.Event()
        self.writes = 0

    def current(self, pod: pod_pb2.Pod) -> pod_pb2.PodStatus:
        """The newest status of `pod`: the last one set, or the API server's."""
        entry = self._entries.get(pod.metadata.uid)
        return entry.status if entry is not None else pod.status

    def set(self, pod: pod_pb2.Pod, status: pod_pb2.PodStatus) -> None:
        uid = pod.metadata.uid
        entry = self._entries.get(uid)
        if entry is None:
            entry = self._entries[uid] = _Entry(pod, pod.status)
        elif _newer(pod, entry.pod):
            entry.pod = pod
        if status == entry.status:
            return
        entry.status = status
        entry.version += 1
        self._dirty[uid] = None
        self._wake.set()

    def forget(self, uid: str) -> None:
        self._entries.pop(uid, None)
        self._dirty.pop(uid, None)

    def pending(self) -> int:
        return len(self._dirty)

    async def run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not await self.flush():
                await asyncio.sleep(self._retry_delay)
                self._wake.set()

    async def flush(self) -> bool:
        """Write every changed status once; False when some write failed and must be retried."""
        ok = True
        for uid in list(self._dirty):
            entry = self._entries.get(uid)
            if entry is None:
                continue
            version = entry.version
            try:
                await self._write(uid, entry)
            except ApiError as err:
                log.warning("writing status of pod %s/%s: %s", entry.pod.metadata.namespace, uid, err)
                ok = False
                continue
            if entry.version == version:
                self._dirty.pop(uid, None)
        return ok

    async def _write(self, uid: str, entry: _Entry) -> None:
        meta = entry.pod.metadata
        for _ in range(CONFLICT_RETRIES):
            pod = pod_pb2.Pod()
            pod.CopyFrom(entry.pod)
            pod.status.CopyFrom(entry.status)
            try:
                written = await self._client.update_status(pod)
            except NotFound:
                self.forget(uid)
                return
            except Conflict:
                try:
                    fresh = await self._client.get(PODS, meta.namespace, meta.name)
                except NotFound:
                    self.forget(uid)
                    return
                assert isinstance(fresh, pod_pb2.Pod)
                if fresh.metadata.uid != uid:
                    self.forget(uid)
                    return
                entry.pod = fresh
                continue
            self.writes += 1
            if self._entries.get(uid) is entry:
                entry.pod = written
            return
        raise Conflict(f"status of pod {meta.namespace}/{meta.name} kept conflicting")
