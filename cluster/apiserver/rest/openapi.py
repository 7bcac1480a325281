"""The OpenAPI documents kubectl fetches before `apply`, `create` and `replace` (pure).

kubectl validates a manifest itself against the server's OpenAPI schema unless the server says,
by listing the `fieldValidation` query parameter on the kind's PATCH operation, that it validates
(then kubectl sends fieldValidation=Strict and the API server's strict decoder names unknown
fields). These documents say exactly that and nothing more: one PATCH operation per kind with its
group-version-kind, the parameter, and the patch types accepted. kubectl 1.29+ read v3 (JSON);
1.27/1.28 read v2 as gnostic protobuf (proto/raykube/openapi/openapi_v2.proto).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cluster.api import patch, resources
from cluster.api.resources import Resource
from raykube.openapi import openapi_v2_pb2 as v2

V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
PATCH_TYPES = [patch.JSON_PATCH, patch.MERGE_PATCH, patch.STRATEGIC_MERGE_PATCH, patch.APPLY_PATCH]
GVK = "x-kubernetes-group-version-kind"


def _item_path(r: Resource[Any]) -> str:
    base = f"/apis/{r.group}/{r.version}" if r.group else "/api/v1"
    scope = "/namespaces/{namespace}" if r.namespaced else ""
    return f"{base}{scope}/{r.name}/{{name}}"


def _group_version_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else "api/v1"


def _group_versions() -> list[tuple[str, str]]:
    return sorted({(r.group, r.version) for r in resources.ALL})


def _v3_document(group: str, version: str) -> dict[str, Any]:
    paths = {}
    for r in resources.ALL:
        if (r.group, r.version) != (group, version):
            continue
        operation = {
            GVK: {"group": r.group, "version": r.version, "kind": r.kind},
            "operationId": f"patch{r.kind}",
            "parameters": [{"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}],
            "requestBody": {"content": {t: {"schema": {"type": "object"}} for t in PATCH_TYPES}},
            "responses": {"200": {"description": "OK"}},
        }
        paths[_item_path(r)] = {"patch": operation}
    return {"openapi": "3.0.0", "info": {"title": "raykube", "version": "v1.30.0"}, "paths": paths,
            "components": {"schemas": {}}}  # fmt: skip


V3_DOCUMENTS = {_group_version_path(g, v): _v3_document(g, v) for g, v in _group_versions()}
V3_HASHES = {
    path: hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
    for path, doc in V3_DOCUMENTS.items()
}


def v3_index() -> dict[str, Any]:
    """/openapi/v3: where each group-version's document is."""
    return {
        "paths": {
            path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={V3_HASHES[path]}"} for path in V3_DOCUMENTS
        }
    }


def v2_document() -> bytes:
    """/openapi/v2 as gnostic protobuf."""
    document = v2.Document(swagger="2.0", info=v2.Info(title="raykube", version="v1.30.0"))
    for r in resources.ALL:
        query = v2.QueryParameterSubSchema(name="fieldValidation", type="string")
        setattr(query, "in", "query")  # a Python keyword
        parameter = v2.ParametersItem(
            parameter=v2.Parameter(non_body_parameter=v2.NonBodyParameter(query_parameter_sub_schema=query))
        )
        kind = v2.NamedAny(
            name=GVK, value=v2.Any(yaml=f'group: "{r.group}"\nkind: {r.kind}\nversion: {r.version}\n')
        )
        operation = v2.Operation(operation_id=f"patch{r.kind}", consumes=PATCH_TYPES, parameters=[parameter],
                                 vendor_extension=[kind])  # fmt: skip
        document.paths.path.add(name=_item_path(r), value=v2.PathItem(patch=operation))
    return document.SerializeToString()
