"""Watch events on the gRPC wire, each encoded once however many watchers it goes to.

A pod change reaches every watcher it concerns (the scheduler, the controller manager, its node's
kubelet, a benchmark's watch): wrapping and serializing it per watcher copied and encoded the same
object several times. Here each (object, event type) is encoded once, as a WatchEvents message of
one event; a message of several events is those encodings concatenated, because protobuf parses
concatenated messages as one whose repeated fields are joined. The stream then sends the bytes
as they are (its response serializer is the identity: see `add_to_server`).

The objects are the watch cache's, shared by every watcher and never changed once cached, so an
object's identity names its encoding. The encoder keeps each object it has encoded alive until it
forgets the encoding (oldest first), so an identity is never reused while it is remembered.
"""

from __future__ import annotations

from typing import Any

from cluster.api.resources import Resource
from raykube.v1 import api_pb2

CAPACITY = 8192  # encodings remembered: well over a burst's events times the kinds they go out as


class WatchEncoder:
    def __init__(self, capacity: int = CAPACITY):
        self._capacity = capacity
        self._encoded: dict[tuple[int, str], tuple[Any, bytes]] = {}  # (id, type) -> (object, bytes)

    def encode(self, resource: Resource[Any], events: list[tuple[str, Any]]) -> bytes:
        """A serialized WatchEvents holding `events` ((type, object) pairs), in order."""
        return b"".join(self._one(resource, kind, obj) for kind, obj in events)

    def _one(self, resource: Resource[Any], kind: str, obj: Any) -> bytes:
        key = (id(obj), kind)
        found = self._encoded.get(key)
        if found is not None:  # the object it was made for is held there: the identity is still its
            return found[1]
        data = api_pb2.WatchEvents(
            events=[api_pb2.WatchEvent(type=kind, object=resource.wrap(obj))]
        ).SerializeToString()
        if kind != "BOOKMARK":  # a bookmark is made for one watcher and never sent again
            if len(self._encoded) >= self._capacity:
                del self._encoded[next(iter(self._encoded))]
            self._encoded[key] = (obj, data)
        return data

    def __len__(self) -> int:
        return len(self._encoded)
