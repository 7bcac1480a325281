"""Fuzzing the REST decoder of a real API server (store and server in-process, plain HTTP on
loopback): random bodies in every content type, random queries. No answer is a 5xx, and the store
ends up holding exactly the objects that were answered 201 Created."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.api import kubeproto, patch
from tests.fuzz.inputs import POD, any_object, json_values
from tests.harness import ControlPlaneThread

PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
CONTENT_TYPES = ["application/json", "application/yaml", kubeproto.CONTENT_TYPE, patch.MERGE_PATCH,
                 patch.JSON_PATCH, patch.STRATEGIC_MERGE_PATCH, patch.APPLY_PATCH, "text/plain", ""]  # fmt: skip


class Rest:
    """One keep-alive HTTP connection to the plane's REST side, as the admin."""

    def __init__(self, plane: ControlPlaneThread):
        self.host, _, port = plane.plane.api.rest_address.rpartition(":")
        self.port = int(port)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        self.created: set[tuple[str, str]] = set()  # (kind, name) answered 201 Created

    def call(self, method: str, path: str, body: bytes = b"", content_type: str = "") -> tuple[int, bytes]:
        headers = {
            "Authorization": "Bearer admin-token",
            **({"Content-Type": content_type} if content_type else {}),
        }
        try:
            self.connection.request(method, path, body=body or None, headers=headers)
            response = self.connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, ConnectionError):
            self.connection.close()  # the server may close a connection after a malformed request
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
            raise


@pytest.fixture(scope="module")
def rest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rest]:
    plane = ControlPlaneThread(tmp_path_factory.mktemp("fuzz-rest"))
    client = Rest(plane)
    status, _ = client.call("POST", PODS, json.dumps(POD).encode(), "application/json")
    assert status == 201
    client.created.add(("Pod", "fuzz"))
    try:
        yield client
    finally:
        client.connection.close()
        plane.stop()


def _encoded(value: Any, how: str) -> bytes:
    if isinstance(value, bytes):
        return value
    text = json.dumps(value)
    return (kubeproto.MAGIC + text.encode()) if how == "protobuf-ish" else text.encode()


bodies = st.tuples(
    any_object() | json_values | st.binary(max_size=64) | st.just(b"k8s\x00\n\x02v1"),
    st.sampled_from(["json", "protobuf-ish"]),
)


@settings(max_examples=1500)
@given(
    st.sampled_from(["POST", "PUT", "PATCH"]),
    st.sampled_from([PODS, f"{PODS}/fuzz", f"{PODS}/fuzz/status", f"{PODS}/other", DEPLOYMENTS]),
    st.sampled_from(CONTENT_TYPES),
    bodies,
)  # fmt: skip
def test_no_body_gets_a_5xx_and_only_created_objects_are_stored(
    rest: Rest, method: str, path: str, content_type: str, body: tuple[Any, str]
) -> None:
    status, answer = rest.call(method, path, _encoded(*body), content_type)
    assert status < 500, answer
    if status == 201:
        created = json.loads(answer)
        rest.created.add((created["kind"], created["metadata"]["name"]))
    if status >= 400 and answer:
        reply = json.loads(answer)
        assert reply["kind"] == "Status" and reply["code"] == status and reply["message"]


queries = st.dictionaries(
    st.sampled_from(["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
                     "resourceVersionMatch", "timeoutSeconds", "pretty", "watch", "allowWatchBookmarks"]),
    st.text(max_size=20) | st.sampled_from(["0", "1", "-1", "true", "NotOlderThan", "Exact", "app=web"]),
    max_size=4,
)  # fmt: skip


@settings(max_examples=1000)
@given(queries)
def test_no_query_gets_a_5xx(rest: Rest, query: dict[str, str]) -> None:
    if "watch" in query:  # any spelling the server takes for true ("TRUE", "t", "1") streams a watch
        query["timeoutSeconds"] = "1"  # until it times out
    status, answer = rest.call("GET", f"{PODS}?{urllib.parse.urlencode(query)}")
    assert status < 500, answer


def test_the_store_holds_exactly_what_was_created(rest: Rest) -> None:
    stored = set()
    for kind, path in (("Pod", PODS), ("Deployment", DEPLOYMENTS)):
        status, answer = rest.call("GET", path)
        assert status == 200
        stored |= {(kind, item["metadata"]["name"]) for item in json.loads(answer)["items"]}
    assert stored == rest.created
