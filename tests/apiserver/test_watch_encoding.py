"""Watch events encoded once for all watchers: the bytes parse as the message built directly."""

from __future__ import annotations

from typing import Any, cast

from cluster.api import resources
from cluster.api.resources import Resource
from cluster.apiserver.watch_encoding import WatchEncoder
from raykube.v1 import api_pb2, pod_pb2


def pod(name: str, version: str = "1") -> pod_pb2.Pod:
    obj = pod_pb2.Pod()
    obj.metadata.name, obj.metadata.namespace, obj.metadata.resource_version = name, "default", version
    obj.spec.containers.add(name="c", image="busybox")
    return obj


def direct(events: list[tuple[str, Any]]) -> api_pb2.WatchEvents:
    return api_pb2.WatchEvents(
        events=[api_pb2.WatchEvent(type=kind, object=resources.PODS.wrap(obj)) for kind, obj in events]
    )


class CountingPods:
    """The pods resource, counting how often an object is wrapped (i.e. encoded)."""

    def __init__(self) -> None:
        self.wrapped = 0

    def wrap(self, obj: Any) -> api_pb2.Object:
        self.wrapped += 1
        return resources.PODS.wrap(obj)


def test_several_events_encode_as_one_message_in_order() -> None:
    a, b, c = pod("a"), pod("b", "2"), pod("c", "3")
    events = [("ADDED", a), ("MODIFIED", b), ("DELETED", c), ("MODIFIED", a)]
    encoded = WatchEncoder().encode(resources.PODS, events)
    assert api_pb2.WatchEvents.FromString(encoded) == direct(events)
    assert WatchEncoder().encode(resources.PODS, []) == b""  # parses as no events


def test_an_event_is_encoded_once_for_every_watcher_and_each_type_on_its_own() -> None:
    pods = CountingPods()
    resource = cast(Resource[Any], pods)
    encoder = WatchEncoder()
    a, b = pod("a"), pod("b")
    for _ in range(5):  # five watchers get the same burst
        assert api_pb2.WatchEvents.FromString(
            encoder.encode(resource, [("ADDED", a), ("ADDED", b)])
        ) == direct([("ADDED", a), ("ADDED", b)])
    assert pods.wrapped == 2
    # A selector transition sends the same object as another type: encoded for that type.
    assert api_pb2.WatchEvents.FromString(encoder.encode(resource, [("DELETED", a)])) == direct(
        [("DELETED", a)]
    )
    assert pods.wrapped == 3


def test_equal_but_distinct_objects_are_not_confused() -> None:
    """Identity names an encoding: a newer version of an object is a new object, encoded anew."""
    encoder = WatchEncoder()
    first = pod("a", "1")
    encoder.encode(resources.PODS, [("MODIFIED", first)])
    newer = pod("a", "2")
    decoded = api_pb2.WatchEvents.FromString(encoder.encode(resources.PODS, [("MODIFIED", newer)]))
    assert decoded.events[0].object.pod.metadata.resource_version == "2"


def test_memory_is_bounded_and_bookmarks_are_not_kept() -> None:
    encoder = WatchEncoder(capacity=3)
    objects = [pod(f"p{i}") for i in range(5)]
    for obj in objects:
        encoder.encode(resources.PODS, [("ADDED", obj)])
    assert len(encoder) == 3
    # The oldest were forgotten, and encode correctly again.
    assert api_pb2.WatchEvents.FromString(encoder.encode(resources.PODS, [("ADDED", objects[0])])) == direct(
        [("ADDED", objects[0])]
    )
    roomy = WatchEncoder()
    roomy.encode(resources.PODS, [("BOOKMARK", pod("", "9"))])
    assert len(roomy) == 0
