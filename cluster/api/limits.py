"""How big and how deep an object may be, checked wherever text becomes data (CLI and API server).

A parser that recurses (PyYAML's composer, json) dies with RecursionError on a few thousand
nested brackets, and an object too large for the store would fail deep in a write: both are
refused at the edge with a message that says what the limit is. No Kubernetes object needs more
than a few dozen levels; values in the store are limited as etcd's default --max-request-bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import yaml

from cluster.errors import BadRequest, RequestEntityTooLarge

MAX_DEPTH = 100  # levels of nested objects and lists
MAX_OBJECT_BYTES = 1536 * 1024  # one object, encoded as stored (etcd's 1.5 MiB)
MAX_MANIFEST_BYTES = 32 * 1024 * 1024  # a manifest file or stdin for the CLI


class TooDeep(BadRequest):
    def __init__(self, where: str):
        super().__init__(f"{where} is nested more than {MAX_DEPTH} levels deep")


def load_yaml_documents(text: str, loader: type[yaml.SafeLoader], where: str = "the manifest") -> list[Any]:
    """Every document in `text`, once its nesting is known to be within MAX_DEPTH.

    The depth is measured on PyYAML's event stream, which it produces without recursion, so a
    hostile document is refused before the (recursive) composer sees it. Aliases cannot nest
    deeper than what they point to, and anchors are resolved by the composer as usual."""
    depth = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooDeep(where)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return list(yaml.load_all(text, Loader=loader))


def load_json(text: str | bytes, where: str = "the request body") -> Any:
    """JSON text into data, refusing anything nested deeper than MAX_DEPTH (ValueError if not JSON)."""
    try:
        data = json.loads(text)
    except RecursionError:  # far deeper than the limit: the decoder ran out of stack first
        raise TooDeep(where) from None
    if _depth(data) > MAX_DEPTH:
        raise TooDeep(where)
    return data


def _depth(data: Any) -> int:
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level + 1)
            stack.extend((child, level + 1) for child in _children(value))
    return deepest


def _children(value: dict[str, Any] | list[Any]) -> Iterator[Any]:
    return iter(value.values()) if isinstance(value, dict) else iter(value)


def check_size(encoded: int, what: str, limit: int = MAX_OBJECT_BYTES) -> None:
    """Refuse (413) an object of `encoded` bytes past what the store keeps in one value."""
    if encoded > limit:
        raise RequestEntityTooLarge(f"{what} is too large: {encoded} bytes encoded, the limit is {limit}")
