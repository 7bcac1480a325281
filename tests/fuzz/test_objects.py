"""Fuzzing what the API server does with a decoded object: defaulting and validation of every
kind, and the three patch types kubectl sends. Whatever the input, the outcome is an object, a
list of field errors, or a client error (4xx): never an exception of another kind (a 500)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.api import patch, resources
from cluster.apiserver.allocation import ServiceNetwork
from cluster.apiserver.patching import apply_patch, decode_body, decode_patched
from cluster.apiserver.strategies import Strategies
from cluster.errors import ApiError
from tests.fuzz.inputs import POD, any_object, json_values, nearly_right

STRATEGIES = Strategies(ServiceNetwork(ipaddress.IPv4Network("10.96.0.0/12")))


def _client_error(err: ApiError) -> None:
    assert 400 <= err.http_code < 500 and str(err), err


@settings(max_examples=2000)
@given(any_object())
def test_defaulting_and_validation_answer_with_field_errors(doc: dict[str, Any]) -> None:
    try:
        resource = resources.by_kind(str(doc.get("kind")), str(doc.get("apiVersion")))
        obj, _ = decode_body(resource, doc)
    except ApiError as err:
        _client_error(err)
        return
    strategy = STRATEGIES[resource]
    strategy.default(obj)
    errors = strategy.validate(obj) + strategy.validate_update(obj, obj)
    assert all(e.field and e.message for e in errors)


directive_keys = st.sampled_from(
    ["metadata", "labels", "spec", "containers", "name", "image", "env", "ports", "containerPort",
     "$patch", "$retainKeys", "$setElementOrder/containers", "$deleteFromPrimitiveList/command", "x"]
)  # fmt: skip
patch_values = st.recursive(
    json_values | st.sampled_from(["replace", "delete", "merge"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(directive_keys, children, max_size=4),
    max_leaves=12,
)
json_patch_ops = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
         "path": st.sampled_from(["/metadata/labels/x", "/spec/containers/0/image", "/spec/containers/-",
                                  "/metadata", "/", "", "/spec/containers/9", "/kind", "~1"])},
        optional={"value": json_values, "from": st.sampled_from(["/metadata/labels", "/spec", "/nope"])},
    ),
    max_size=4,
) | json_values  # fmt: skip


@settings(max_examples=2000)
@given(
    st.sampled_from([patch.STRATEGIC_MERGE_PATCH, patch.MERGE_PATCH, patch.JSON_PATCH, "text/plain"]),
    patch_values | nearly_right(POD) | json_patch_ops,
)
def test_patches_produce_an_object_or_a_client_error(patch_type: str, body: Any) -> None:
    original = copy.deepcopy(POD)
    try:
        patched = apply_patch(resources.PODS, original, patch_type, body)
        decode_patched(resources.PODS, patched, "fuzz", "")
    except ApiError as err:
        _client_error(err)
    assert original == POD  # patching works on a copy: a failed patch leaves nothing half-done
