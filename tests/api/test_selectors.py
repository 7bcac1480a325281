"""Label and field selectors: kubectl's syntax, matching, and errors."""

from __future__ import annotations

import pytest

from cluster.api import fields, labels
from raykube.v1 import meta_pb2, pod_pb2

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web, api)", True),
        ("app notin (web)", False),
        ("tier", True),
        ("!tier", False),
        ("!canary", True),
        ("app=web,tier=back", False),
        ("version>2", True),
        ("version<3", False),
        ("app=", False),
        # As Kubernetes reads a list: an empty entry is the empty value, "()" is {""}.
        ("app in ()", False),
        ("app notin ()", True),
        ("app in (web,)", True),
        ("app in (,db)", False),
    ],
)
def test_label_selector_matching(selector: str, matches: bool) -> None:
    assert labels.parse(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "selector", ["app in web", "a b", "=b", "app in (web api)", "Bad Key=1", "a=b=c=", "x in (a"]
)
def test_label_selector_errors(selector: str) -> None:
    with pytest.raises(labels.SelectorError):
        labels.parse(selector)


def test_an_empty_value_prints_back_to_itself() -> None:
    """`key!=` is NotIn {""}: it prints as `key notin ()`, which must read back the same."""
    for text in ("9!=", "app=", "app in (,web)"):
        selector = labels.parse(text)
        assert labels.parse(str(selector)) == selector
    assert labels.parse("app!=").matches({"app": "web"}) and not labels.parse("app!=").matches({"app": ""})


def test_structured_selectors() -> None:
    selector = meta_pb2.LabelSelector(
        match_labels={"app": "web"},
        match_expressions=[
            meta_pb2.LabelSelectorRequirement(key="tier", operator="In", values=["front", "x"])
        ],
    )
    assert labels.from_label_selector(selector).matches(LABELS)
    term = pod_pb2.NodeSelectorTerm(
        match_expressions=[pod_pb2.NodeSelectorRequirement(key="version", operator="Gt", values=["1"])]
    )
    assert labels.from_node_selector_term(term).matches(LABELS)
    assert not labels.from_map({"app": "web", "zone": "a"}).matches(LABELS)


def test_field_selectors() -> None:
    supported = {"spec.nodeName", "status.phase"}
    selector = fields.parse("spec.nodeName=n1,status.phase!=Failed", supported)
    assert selector.matches({"spec.nodeName": "n1", "status.phase": "Running"})
    assert not selector.matches({"spec.nodeName": "n2", "status.phase": "Running"})
    assert selector.required_value("spec.nodeName") == "n1"
    assert fields.parse("spec.nodeName==", supported).matches({"spec.nodeName": ""})
    with pytest.raises(fields.FieldSelectorError, match=r'field label not supported: "spec\.foo"'):
        fields.parse("spec.foo=1", supported)
    with pytest.raises(fields.FieldSelectorError):
        fields.parse("spec.nodeName", supported)
