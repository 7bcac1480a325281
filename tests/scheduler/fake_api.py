"""An in-memory stand-in for the API server: list/watch, bind and update_status, with the real
server's preconditions (uid, resourceVersion, already bound), and hooks to inject failures."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Sequence

from google.protobuf.message import Message

from cluster.api import resources
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import api_pb2, pod_pb2


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], Message] = {}
        self.log: list[tuple[int, str, str, Message]] = []  # (revision, resource, type, object)
        self.revision = itertools.count(100)
        self.current = 99
        self.watchers: list[tuple[str, asyncio.Queue[tuple[str, Message]]]] = []
        self.binds: list[tuple[str, str, str, str]] = []  # (name, node, uid, resourceVersion)
        self.status_writes: list[pod_pb2.Pod] = []
        self.deletes: list[tuple[str, str]] = []  # (namespace, name) the scheduler deleted (preemption)
        self.before_bind: Callable[[str, str], None] | None = None  # may raise to fail a bind
        self.bind_gate: asyncio.Event | None = None  # binds wait for it (to hold them in flight)

    # -- test-side writes --------------------------------------------------------------------

    def put(self, obj: Message) -> Message:
        resource = resources.of(obj)
        key = (resource.name, obj.metadata.namespace, obj.metadata.name)
        kind = "MODIFIED" if key in self.objects else "ADDED"
        stored = type(obj)()
        stored.CopyFrom(obj)
        self.current = next(self.revision)
        stored.metadata.resource_version = str(self.current)
        self.objects[key] = stored
        self._emit(resource.name, kind, stored)
        return stored

    def remove(self, obj: Message) -> None:
        resource = resources.of(obj)
        stored = self.objects.pop((resource.name, obj.metadata.namespace, obj.metadata.name))
        self.current = next(self.revision)
        stored.metadata.resource_version = str(self.current)
        self._emit(resource.name, "DELETED", stored)

    def pod(self, name: str, namespace: str = "default") -> pod_pb2.Pod:
        obj = self.objects[("pods", namespace, name)]
        assert isinstance(obj, pod_pb2.Pod)
        return obj

    def _emit(self, resource: str, kind: str, obj: Message) -> None:
        self.log.append((self.current, resource, kind, obj))
        for watched, queue in self.watchers:
            if watched == resource:
                queue.put_nowait((kind, obj))

    # -- SchedulerApi --------------------------------------------------------------------------

    async def list(
        self,
        resource: resources.Resource,
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[Message], str]:
        return [o for (r, _, _), o in self.objects.items() if r == resource.name], str(self.current)

    async def watch(
        self,
        resource: resources.Resource,
        namespace: str = "",
        *,
        resource_version: str = "",
        label_selector: str = "",
        field_selector: str = "",
        allow_bookmarks: bool = False,
    ) -> AsyncIterator[tuple[str, Message]]:
        queue: asyncio.Queue[tuple[str, Message]] = asyncio.Queue()
        for revision, watched, kind, obj in self.log:
            if watched == resource.name and revision > int(resource_version or 0):
                queue.put_nowait((kind, obj))
        entry = (resource.name, queue)
        self.watchers.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self.watchers.remove(entry)

    async def delete(
        self, resource: resources.Resource, namespace: str, name: str, *, grace_period_seconds: int | None = None,
        uid: str = "", resource_version: str = "", propagation_policy: str = "",
    ) -> tuple[Message, bool]:  # fmt: skip
        stored = self.objects.get((resource.name, namespace, name))
        if stored is None or (uid and stored.metadata.uid != uid):
            raise NotFound(f'{resource.name} "{name}" not found')
        self.deletes.append((namespace, name))
        self.remove(stored)
        return stored, True

    async def bind(
        self, namespace: str, name: str, node_name: str, *, uid: str = "", resource_version: str = ""
    ) -> Message:
        self.binds.append((name, node_name, uid, resource_version))
        await asyncio.sleep(0)  # a round trip: other work interleaves
        if self.bind_gate is not None:
            await self.bind_gate.wait()
        if self.before_bind is not None:
            self.before_bind(name, node_name)
        current = self.objects.get(("pods", namespace, name))
        if current is None:
            raise NotFound(f'pods "{name}" not found')
        assert isinstance(current, pod_pb2.Pod)
        if uid and uid != current.metadata.uid:
            raise Conflict("Precondition failed: UID")
        if resource_version and resource_version != current.metadata.resource_version:
            raise Conflict("the object has been modified; please apply your changes to the latest version")
        if current.spec.node_name:
            raise Conflict(f'pod {name} is already assigned to node "{current.spec.node_name}"')
        updated = pod_pb2.Pod()
        updated.CopyFrom(current)
        updated.spec.node_name = node_name
        updated.status.ClearField("conditions")
        updated.status.conditions.add(type="PodScheduled", status="True")
        return self.put(updated)

    async def bind_many(self, binds: Sequence[api_pb2.BindRequest]) -> list[Message | ApiError]:
        """Each bind as `bind` does it, concurrently (as the API server runs them)."""

        async def one(b: api_pb2.BindRequest) -> Message | ApiError:
            try:
                return await self.bind(b.namespace, b.name, b.node_name, uid=b.preconditions.uid,
                                       resource_version=b.preconditions.resource_version)  # fmt: skip
            except ApiError as err:
                return err

        return list(await asyncio.gather(*map(one, binds)))

    async def update_status(self, obj: pod_pb2.Pod) -> pod_pb2.Pod:
        await asyncio.sleep(0)
        self.status_writes.append(obj)
        current = self.pod(obj.metadata.name, obj.metadata.namespace)
        if obj.metadata.uid and obj.metadata.uid != current.metadata.uid:
            raise Conflict("Precondition failed: UID")
        version = obj.metadata.resource_version
        if version and version != current.metadata.resource_version:
            raise Conflict("the object has been modified; please apply your changes to the latest version")
        updated = pod_pb2.Pod()
        updated.CopyFrom(current)
        updated.status.CopyFrom(obj.status)
        stored = self.put(updated)
        assert isinstance(stored, pod_pb2.Pod)
        return stored
