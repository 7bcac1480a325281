"""Fuzzing the parsers at the API's edge: the manifest codec, label and field selectors, and
quantities. Whatever comes in, each either parses or raises its own documented error, and what
parses survives a round trip."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from cluster.api import codec, fields, labels, manifest, quantity, resources
from cluster.errors import ApiError
from tests.fuzz.inputs import any_object, json_values

KINDS = sorted(resources.ALL, key=lambda r: r.name)


@settings(max_examples=1500)
@given(st.sampled_from(KINDS), st.dictionaries(st.text(max_size=15), json_values, max_size=6) | any_object())
def test_the_codec_decodes_or_says_which_field(
    resource: resources.Resource[Any], doc: dict[str, Any]
) -> None:
    try:
        obj = codec.decode(doc, resource.message)
    except codec.DecodeError as err:
        assert err.errors and all(e.message for e in err.errors)  # each complaint says what
        return
    assert codec.decode(codec.encode(obj), resource.message) == obj


@settings(max_examples=1000)
@given(any_object() | json_values)
def test_manifests_decode_or_are_refused_with_a_client_error(doc: Any) -> None:
    try:
        obj = manifest.decode_object(doc)
    except ApiError as err:
        assert err.http_code in (400, 422) and str(err)
        return
    assert codec.decode(codec.encode(obj), type(obj)) == obj


label_text = st.text(alphabet="ab=!,() <>-_./9xIntoDesEis", max_size=40) | st.text(max_size=40)


@settings(max_examples=1500)
@given(
    label_text, st.dictionaries(st.sampled_from(["a", "b", "app", "x/y"]), st.sampled_from(["", "1", "a"]))
)
def test_label_selectors_parse_or_say_why_and_print_back_to_themselves(
    text: str, pod_labels: dict[str, str]
) -> None:
    try:
        selector = labels.parse(text)
    except labels.SelectorError as err:
        assert str(err)
        return
    again = labels.parse(str(selector))
    assert again == selector and again.matches(pod_labels) == selector.matches(pod_labels)


@settings(max_examples=1000)
@given(st.text(alphabet="metadata.nspc=!,status.phase ", max_size=40) | st.text(max_size=40))
def test_field_selectors_parse_or_say_why(text: str) -> None:
    try:
        selector = fields.parse(
            text, ["metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"]
        )
    except fields.FieldSelectorError as err:
        assert str(err)
        return
    assert all(r.field for r in selector.requirements)


suffixes = st.sampled_from(
    ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
)


@settings(max_examples=1500)
@given(st.text(alphabet="0123456789.+-eEkKMGTPimnu ", max_size=12) | st.text(max_size=12))
def test_quantities_parse_exactly_or_say_why(text: str) -> None:
    try:
        value = quantity.parse(text)
    except quantity.QuantityError as err:
        assert str(err)
        return
    assert quantity.milli_value(text) >= value * 1000  # rounded up, never down


@settings(max_examples=1000)
@given(st.integers(0, 10**6), st.integers(0, 999), suffixes)
def test_well_formed_quantities_have_the_value_written(whole: int, thousandths: int, suffix: str) -> None:
    text = f"{whole}.{thousandths:03d}{suffix}"
    value = quantity.parse(text)
    assert value * 1000 == (whole * 1000 + thousandths) * quantity.parse(f"1{suffix}")
