"""A tiny in-memory stand-in for the API client's pod verbs, for the kubelet's unit tests.

Only what the status manager and the terminate path call: get, update_status (with
resourceVersion and uid checks like the real server), and the final delete with a uid
precondition. Integration tests use the real API server instead.
"""

from __future__ import annotations

from cluster.api.resources import Resource
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import pod_pb2


class FakeApi:
    def __init__(self, *pods: pod_pb2.Pod):
        self.pods: dict[tuple[str, str], pod_pb2.Pod] = {}
        self.status_writes: list[pod_pb2.PodStatus] = []
        self.deletes: list[tuple[str, str, int | None, str]] = []
        self.fail_next: list[ApiError] = []  # raised by the next calls, in order
        for pod in pods:
            self.put(pod)

    def put(self, pod: pod_pb2.Pod) -> None:
        stored = pod_pb2.Pod()
        stored.CopyFrom(pod)
        self.pods[pod.metadata.namespace, pod.metadata.name] = stored

    def _bump(self, pod: pod_pb2.Pod) -> None:
        pod.metadata.resource_version = str(int(pod.metadata.resource_version or "0") + 1)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    async def get(self, resource: Resource, namespace: str, name: str) -> pod_pb2.Pod:
        self._maybe_fail()
        stored = self.pods.get((namespace, name))
        if stored is None:
            raise NotFound(f'pods "{name}" not found')
        copy = pod_pb2.Pod()
        copy.CopyFrom(stored)
        return copy

    async def update_status(self, pod: pod_pb2.Pod) -> pod_pb2.Pod:
        self._maybe_fail()
        stored = self.pods.get((pod.metadata.namespace, pod.metadata.name))
        if stored is None:
            raise NotFound(f'pods "{pod.metadata.name}" not found')
        version = pod.metadata.resource_version
        if (
            version and version != stored.metadata.resource_version
        ) or pod.metadata.uid != stored.metadata.uid:
            raise Conflict("the object has been modified")
        stored.status.CopyFrom(pod.status)
        self._bump(stored)
        self.status_writes.append(pod.status)
        return await self.get(None, pod.metadata.namespace, pod.metadata.name)  # type: ignore[arg-type]

    async def delete(
        self,
        resource: Resource,
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str = "",
    ) -> tuple[pod_pb2.Pod, bool]:
        self._maybe_fail()
        stored = self.pods.get((namespace, name))
        if stored is None:
            raise NotFound(f'pods "{name}" not found')
        if uid and uid != stored.metadata.uid:
            raise Conflict("Precondition failed: UID")
        self.deletes.append((namespace, name, grace_period_seconds, uid))
        del self.pods[namespace, name]
        return stored, True
