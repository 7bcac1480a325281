"""Request bodies into objects, as kube-apiserver decodes them: the three patch formats applied to
an object's JSON form, and strict or lenient decoding by the client's fieldValidation.

Decoding errors are 400 BadRequest in Kubernetes' words ("Pod in version "v1" cannot be handled as
a Pod: strict decoding error: unknown field "spec.foo""); validation (422) comes after, in the
registry, as for any write.
"""

from __future__ import annotations

from typing import Any

from cluster.api import codec, patch
from cluster.api.resources import Resource
from cluster.errors import BadRequest, FieldError

FIELD_VALIDATIONS = ("Strict", "Warn", "Ignore")


def apply_patch(resource: Resource[Any], doc: dict[str, Any], patch_type: str, body: Any) -> Any:
    if patch_type == patch.MERGE_PATCH:
        return patch.merge_patch(doc, body)
    if patch_type == patch.JSON_PATCH:
        return patch.json_patch(doc, body)
    if patch_type == patch.STRATEGIC_MERGE_PATCH:
        return patch.strategic_merge_patch(doc, body, resource.message.DESCRIPTOR)
    raise UnsupportedMediaType(patch_type)


class UnsupportedMediaType(BadRequest):
    http_code = 415
    reason = "UnsupportedMediaType"

    def __init__(self, content_type: str):
        super().__init__(
            f"the body of the request was in an unknown format - accepted media types include: "
            f"{patch.JSON_PATCH}, {patch.MERGE_PATCH}, {patch.STRATEGIC_MERGE_PATCH}, {patch.APPLY_PATCH} "
            f"(got {content_type or 'none'})"
        )


def decode_body(resource: Resource[Any], doc: Any, field_validation: str = "Strict") -> tuple[Any, list[str]]:
    """The typed object a request body describes, and warnings (unknown fields, with Warn)."""
    if field_validation not in FIELD_VALIDATIONS:
        raise BadRequest(
            f'fieldValidation must be one of {", ".join(FIELD_VALIDATIONS)}, got "{field_validation}"'
        )
    if not isinstance(doc, dict):
        raise BadRequest(f"the body must be a JSON object, not {type(doc).__name__}")
    for key, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
        sent = doc.get(key)
        if sent and sent != expected:
            what = "API version" if key == "apiVersion" else "kind"
            raise BadRequest(
                f"the {what} in the data ({sent}) does not match the expected {what} ({expected})"
            )
    handled = f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}'
    try:
        obj, unknown = codec.decode_lenient(doc, resource.message)
    except codec.DecodeError as err:
        raise BadRequest(f"{handled}: {_listed(err.errors)}") from None
    if unknown and field_validation == "Strict":
        raise BadRequest(f"{handled}: strict decoding error: {_listed(unknown)}")
    warnings = [f'unknown field "{e.field}"' for e in unknown] if field_validation == "Warn" else []
    return obj, warnings


def decode_patched(resource: Resource[Any], doc: Any, name: str, namespace: str) -> Any:
    """The object a patch produced: it must still be that object (same name and namespace)."""
    obj, _ = decode_body(resource, doc)
    meta = obj.metadata
    if meta.name != name:
        raise BadRequest(f"the name of the object ({meta.name}) does not match the name on the URL ({name})")
    if resource.namespaced and meta.namespace != namespace:
        raise BadRequest("the namespace of the object does not match the namespace on the request")
    return obj


def _listed(errors: list[FieldError]) -> str:
    return ", ".join(
        f'unknown field "{e.field}"' if e.reason == codec.UNKNOWN_FIELD else str(e) for e in errors
    )
