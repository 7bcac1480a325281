"""Manifests: YAML/JSON documents into typed objects, and the errors a user sees."""

from __future__ import annotations

import pytest

from cluster.api import manifest
from cluster.errors import BadRequest, Invalid, RequestEntityTooLarge
from raykube.v1 import node_pb2, pod_pb2

CLASSIC = """\
apiVersion: v1
kind: Pod
metadata:
  name: example-pod
spec:
  containers:
  - name: example-container
    image: nginx
"""


def test_the_classic_first_manifest() -> None:
    [pod] = manifest.load(CLASSIC)
    assert isinstance(pod, pod_pb2.Pod)
    assert pod.metadata.name == "example-pod"
    assert pod.spec.containers[0].image == "nginx"


def test_several_documents_json_and_lists() -> None:
    text = (
        CLASSIC
        + "---\n"
        + '{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}\n---\n'
        + ("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Node, metadata: {name: n2}}\n")
    )
    objects = manifest.load(text)
    assert [type(o) for o in objects] == [pod_pb2.Pod, node_pb2.Node, node_pb2.Node]
    assert [o.metadata.name for o in objects] == ["example-pod", "n1", "n2"]


def test_yaml_timestamps_stay_strings() -> None:
    [pod] = manifest.load(CLASSIC + "  nodeSelector: {since: 2026-01-01}\n")
    assert pod.spec.node_selector["since"] == "2026-01-01"


@pytest.mark.parametrize(
    ("text", "error", "expected"),
    [
        (CLASSIC.replace("image:", "imagee:"), Invalid,
         'Pod "example-pod" is invalid: spec.containers[0].imagee: unknown field "imagee"'),
        (CLASSIC.replace("apiVersion: v1", "apiVersion: apps/v1"), Invalid,
         'apiVersion: Unsupported value: "apps/v1": supported values: "v1"'),
        (CLASSIC.replace("kind: Pod", "kind: Frobnicator"), BadRequest, 'no matches for kind "Frobnicator" in version "v1"'),
        (CLASSIC.replace("kind: Pod", "kind: Deployment"), Invalid,
         'Deployment "example-pod" is invalid: apiVersion: Unsupported value: "v1": supported values: "apps/v1"'),
        (CLASSIC.replace("kind: Pod", "kind: Deployment").replace("apiVersion: v1", "apiVersion: apps/v2"), Invalid,
         'apiVersion: Unsupported value: "apps/v2": supported values: "apps/v1"'),
        (CLASSIC.replace("kind: Pod\n", ""), Invalid, "kind: Required value"),
        ("- just\n- a list\n", BadRequest, "a manifest must be an object"),
        ("metadata: [unclosed\n", BadRequest, "not valid YAML or JSON"),
    ],
)  # fmt: skip
def test_bad_manifests_say_what_is_wrong(text: str, error: type[Exception], expected: str) -> None:
    with pytest.raises(error, match=None) as caught:
        manifest.load(text)
    assert expected in str(caught.value)


def test_deeply_nested_and_oversized_manifests_are_refused_with_the_limit() -> None:
    deep_yaml = CLASSIC + "    env: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(BadRequest, match="nested more than 100 levels deep"):
        manifest.load(deep_yaml)
    block_style = CLASSIC + "".join(f"{'  ' * i}k{i}:\n" for i in range(150))
    with pytest.raises(BadRequest, match="nested more than 100 levels deep"):
        manifest.load(block_style)
    nested_ok = CLASSIC.replace("metadata:\n", "metadata:\n  annotations: {a: '" + "[" * 5000 + "'}\n")
    assert manifest.load(nested_ok)[0].metadata.annotations["a"] == "[" * 5000  # brackets in a string
    huge = CLASSIC.replace("image: nginx", "image: nginx\n    args: ['" + "x" * 2_000_000 + "']")
    with pytest.raises(RequestEntityTooLarge, match=r"Pod 'example-pod' is too large: \d+ bytes"):
        manifest.load(huge)
    with pytest.raises(RequestEntityTooLarge, match="the manifest is too large"):
        manifest.load(" " * (33 * 1024 * 1024))
