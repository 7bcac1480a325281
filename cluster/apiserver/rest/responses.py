"""Objects, lists and errors as Kubernetes writes them in JSON (pure but for aiohttp's Response)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from google.protobuf.message import Message

from cluster.api import codec
from cluster.api.resources import Resource
from cluster.errors import ApiError

JSON = "application/json"


def object_json(resource: Resource[Any], obj: Message) -> dict[str, Any]:
    """The object's JSON form, apiVersion and kind first (always set in responses)."""
    body = codec.encode(obj)
    body.pop("apiVersion", None)
    body.pop("kind", None)
    return {"apiVersion": resource.api_version, "kind": resource.kind, **body}


def list_json(
    resource: Resource[Any], items: Sequence[Message], version: str, token: str = ""
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": version}
    if token:
        metadata["continue"] = token
    return {"apiVersion": resource.api_version, "kind": f"{resource.kind}List", "metadata": metadata,
            "items": [object_json(resource, o) for o in items]}  # fmt: skip


def status_json(error: ApiError) -> dict[str, Any]:
    status: dict[str, Any] = codec.encode(error.to_status())
    status.setdefault("metadata", {})
    details = status.get("details") or {}
    if not any(details.values()):
        status.pop("details", None)
    return status


def success_json(name: str, kind: str, uid: str = "") -> dict[str, Any]:
    """What a DELETE answers when the object is gone at once and no body is wanted (collections)."""
    details = {"name": name, "kind": kind, **({"uid": uid} if uid else {})}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=JSON, headers=headers)


def error_response(error: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return respond(status_json(error), error.http_code, headers)
