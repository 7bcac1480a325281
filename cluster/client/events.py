"""Recording Events about objects, as client-go's event recorder does: never in the caller's way.

    recorder = EventRecorder(client, "default-scheduler")
    recorder.event(pod, "Normal", "Scheduled", f"Successfully assigned {ns}/{name} to {node}")
    ...
    await recorder.run()   # a component's long-running loop: writes what was recorded

`event()` only queues (and drops, with a warning, when a thousand wait): a slow or failing API
server never slows the component down. `run()` writes each one: the first occurrence is a new
Event named `<object>.<unique suffix>` in the object's namespace ("default" for cluster-scoped
objects, like Nodes); a repeat (same object, type, reason, message and source within
`aggregate_for` seconds) updates that Event's count and lastTimestamp instead (the correlator).
Writing failures are logged and dropped: Events are best effort.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import resources, wellknown
from cluster.client.api import ApiClient
from cluster.errors import ApiError, NotFound
from raykube.v1 import event_pb2

log = logging.getLogger(__name__)
NORMAL, WARNING = "Normal", "Warning"
DROP_LOG_PERIOD = 10.0  # seconds between warnings about dropped events


@dataclass(frozen=True)
class _Pending:
    involved: event_pb2.ObjectReference
    type: str
    reason: str
    message: str
    at: float


def reference(obj: Message) -> event_pb2.ObjectReference:
    """An ObjectReference to an API object (the involvedObject of its Events)."""
    resource = resources.of(obj)
    meta = obj.metadata  # type: ignore[attr-defined]
    return event_pb2.ObjectReference(
        kind=resource.kind,
        api_version=resource.api_version,
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        resource_version=meta.resource_version,
    )


class EventRecorder:
    def __init__(
        self,
        client: ApiClient,
        component: str,
        host: str = "",
        *,
        aggregate_for: float = 600.0,
        clock: Callable[[], float] = time.time,
        capacity: int = 1000,
    ):
        self._client = client
        self.component = component
        self._source = event_pb2.EventSource(component=component, host=host)
        self._aggregate_for = aggregate_for
        self._clock = clock
        self._pending: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=capacity)
        self.dropped = 0
        self._dropped_logged = -DROP_LOG_PERIOD
        # (involved uid/name, type, reason, message) -> (the Event's namespace/name, its count, last written)
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int, float]] = OrderedDict()

    def event(self, obj: Message, type: str, reason: str, message: str) -> None:
        """Record that `reason` happened to `obj` (type Normal or Warning); returns at once."""
        try:
            self._pending.put_nowait(_Pending(reference(obj), type, reason, message, self._clock()))
        except asyncio.QueueFull:
            self.dropped += 1
            now = time.monotonic()
            if now - self._dropped_logged >= DROP_LOG_PERIOD:  # a flood must not flood the log too
                self._dropped_logged = now
                log.warning("events dropped (too many waiting): %d so far; the latest: %s %s: %s",
                            self.dropped, type, reason, message)  # fmt: skip

    async def run(self) -> None:
        """Write recorded Events until cancelled."""
        while True:
            pending = await self._pending.get()
            try:
                await self._write(pending)
            except ApiError as err:
                log.info("event %s %s on %s/%s not written: %s", pending.type, pending.reason,
                         pending.involved.namespace, pending.involved.name, err)  # fmt: skip

    async def _write(self, pending: _Pending) -> None:
        involved = pending.involved
        key = (involved.uid or involved.name, involved.kind, pending.type, pending.reason, pending.message)
        seen = self._seen.get(key)
        if seen is not None and pending.at - seen[3] < self._aggregate_for:
            namespace, name, count, _ = seen
            try:
                event = await self._client.get(resources.EVENTS, namespace, name)
            except NotFound:
                event = None  # expired meanwhile: record it anew
            if isinstance(event, event_pb2.Event):
                event.count = count + 1
                event.last_timestamp.CopyFrom(_stamp(pending.at))
                await self._client.update(event)
                self._remember(key, namespace, name, count + 1, pending.at)
                return
        namespace = involved.namespace or wellknown.NAMESPACE_DEFAULT
        event = event_pb2.Event(
            involved_object=involved,
            reason=pending.reason,
            message=pending.message,
            source=self._source,
            type=pending.type,
            count=1,
            reporting_component=self._source.component,
            reporting_instance=self._source.host,
        )
        event.metadata.name = f"{involved.name}.{uuid.uuid4().hex[:16]}"
        event.metadata.namespace = namespace
        event.first_timestamp.CopyFrom(_stamp(pending.at))
        event.last_timestamp.CopyFrom(_stamp(pending.at))
        await self._client.create(event)
        self._remember(key, namespace, event.metadata.name, 1, pending.at)

    def _remember(self, key: tuple[str, ...], namespace: str, name: str, count: int, at: float) -> None:
        self._seen[key] = (namespace, name, count, at)
        self._seen.move_to_end(key)
        while len(self._seen) > 4096:
            self._seen.popitem(last=False)


def _stamp(seconds: float) -> Timestamp:
    return Timestamp(seconds=int(seconds))
