"""Manifests (YAML or JSON, one or many documents, or a `kind: List`) into typed API objects.

This is the client-side edge: a document that does not fit the schema is rejected here with every
bad field's path, before anything is sent. Semantic validation (name format, required fields,
quantities) happens in the API server, which is the edge for every client.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import yaml
from google.protobuf.message import Message

from cluster.api import codec, limits, resources
from cluster.errors import BadRequest, FieldError, Invalid, not_supported


class _Loader(yaml.SafeLoader):
    """YAML 1.1 safe loading, except that timestamps stay strings (as Kubernetes' YAML->JSON does)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def documents(text: str) -> Iterator[Any]:
    """Every non-empty document in `text` (YAML is a superset of JSON), flattening `kind: List`;
    text past the size or depth limits (limits.py) is refused before it is parsed into objects."""
    if len(text) > limits.MAX_MANIFEST_BYTES:
        raise limits.RequestEntityTooLarge(
            f"the manifest is too large: {len(text)} bytes, the limit is {limits.MAX_MANIFEST_BYTES}"
        )
    try:
        loaded = limits.load_yaml_documents(text, _Loader)
    except yaml.YAMLError as err:
        raise BadRequest(f"not valid YAML or JSON: {err}") from err
    for doc in loaded:
        if doc is None:
            continue
        if isinstance(doc, Mapping) and doc.get("kind") == "List":
            yield from doc.get("items") or []
        else:
            yield doc


def decode_object(doc: Any) -> Message:
    """The typed object a document describes; Invalid (with field paths) when it does not fit."""
    if not isinstance(doc, Mapping):
        raise BadRequest(f"a manifest must be an object with apiVersion and kind, not {type(doc).__name__}")
    kind, api_version = doc.get("kind"), doc.get("apiVersion")
    name = (
        str((doc.get("metadata") or {}).get("name", "")) if isinstance(doc.get("metadata"), Mapping) else ""
    )
    missing = [
        FieldError(f, "Required value", "FieldValueRequired")
        for f, v in (("apiVersion", api_version), ("kind", kind))
        if not v
    ]
    if missing:
        raise Invalid.for_object(str(kind or "object"), name, missing)
    resource = resources.by_kind(str(kind), str(api_version))
    if api_version != resource.api_version:
        raise Invalid.for_object(
            resource.kind, name, [not_supported("apiVersion", api_version, [resource.api_version])]
        )
    try:
        return codec.decode(doc, resource.message)
    except codec.DecodeError as err:
        raise Invalid.for_object(resource.kind, name, err.errors) from err


def load(text: str) -> list[Message]:
    """Every object in a manifest; the first bad document raises (nothing is half-applied by callers),
    as does one too large for the API server to store."""
    objects = [decode_object(doc) for doc in documents(text)]
    for obj in objects:
        limits.check_size(obj.ByteSize(), f"{type(obj).__name__} {obj.metadata.name!r}")  # type: ignore[attr-defined]
    return objects
