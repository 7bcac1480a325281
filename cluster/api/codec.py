"""The one codec between JSON/YAML-shaped dicts and API protobufs, strict like Kubernetes.

Field names are the protobuf JSON names, which the schema sets to Kubernetes' JSON names
(`nodeName`, `podIP`), so one `.proto` serves gRPC, manifests and storage. Unlike protobuf's own
json_format, decoding here:
  - accepts only the JSON name (not the proto name `node_name`), as a Kubernetes decoder would;
  - reports every unknown or mistyped field with its Kubernetes path (`spec.containers[0].image`),
    all at once, instead of stopping at the first;
  - accepts numbers where Kubernetes does (quantities `cpu: 1`, IntOrString ports) via the field
    options in raykube/v1/options.proto;
and encoding writes int64 as JSON numbers (not strings) and omits unset fields, except those that
Kubernetes always writes (the `always_emit` option), as kubectl shows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from cluster.errors import FieldError
from raykube.v1 import options_pb2

M = TypeVar("M", bound=Message)
UNKNOWN_FIELD = "FieldValueUnknown"

_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
_TIMESTAMP = "google.protobuf.Timestamp"


class DecodeError(ValueError):
    """A document does not fit the schema; `errors` names every offending field."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@cache
def _fields_by_json_name(descriptor: Any) -> dict[str, Any]:
    return {f.json_name: f for f in descriptor.fields}


def _is_map(field: Any) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def field_option(field: Any, extension: Any) -> bool:
    """Whether a field carries one of raykube/v1/options.proto's boolean options."""
    return bool(field.GetOptions().Extensions[extension])


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _describe(value: object) -> str:
    kind = _json_type(value)
    return f"{kind} {json.dumps(value)}" if kind in ("string", "integer", "number", "boolean") else kind


def decode(data: Mapping[str, Any], cls: type[M], path: str = "") -> M:
    """A `cls` message from `data`; raises DecodeError naming every bad field under `path`."""
    message, unknown = decode_lenient(data, cls, path)
    if unknown:
        raise DecodeError(unknown)
    return message


def decode_lenient(data: Mapping[str, Any], cls: type[M], path: str = "") -> tuple[M, list[FieldError]]:
    """Like `decode`, but unknown fields are dropped and returned rather than refused (an API
    client's fieldValidation=Ignore or Warn); mistyped fields still raise DecodeError."""
    message = cls()
    errors: list[FieldError] = []
    if not isinstance(data, Mapping):
        errors.append(FieldError(path, f"expected an object, got {_describe(data)}", "FieldValueTypeInvalid"))
    else:
        _decode_into(data, message, path, errors)
    unknown = [e for e in errors if e.reason == UNKNOWN_FIELD]
    if len(unknown) < len(errors):
        raise DecodeError(errors)
    return message, unknown


def _decode_into(data: Mapping[str, Any], message: Message, path: str, errors: list[FieldError]) -> None:
    fields = _fields_by_json_name(message.DESCRIPTOR)
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        field = fields.get(key) if isinstance(key, str) else None
        if field is None:
            errors.append(FieldError(where, f'unknown field "{key}"', UNKNOWN_FIELD))
            continue
        if value is None:  # JSON null: the field stays unset, as in Kubernetes
            continue
        if _is_map(field):
            _decode_map(value, message, field, where, errors)
        elif field.is_repeated:
            if not isinstance(value, list):
                errors.append(
                    FieldError(where, f"expected an array, got {_describe(value)}", "FieldValueTypeInvalid")
                )
                continue
            target = getattr(message, field.name)
            for index, item in enumerate(value):
                item_path = f"{where}[{index}]"
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    if not isinstance(item, Mapping):
                        errors.append(
                            FieldError(
                                item_path,
                                f"expected an object, got {_describe(item)}",
                                "FieldValueTypeInvalid",
                            )
                        )
                        continue
                    _decode_into(item, target.add(), item_path, errors)
                else:
                    ok, converted = _scalar(field, item, item_path, errors)
                    if ok:
                        target.append(converted)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            _decode_message_field(value, message, field, where, errors)
        else:
            ok, converted = _scalar(field, value, where, errors)
            if ok:
                setattr(message, field.name, converted)


def _decode_message_field(
    value: Any, message: Message, field: Any, where: str, errors: list[FieldError]
) -> None:
    child = getattr(message, field.name)
    if field.message_type.full_name == _TIMESTAMP:
        if not isinstance(value, str):
            errors.append(
                FieldError(
                    where, f"expected an RFC 3339 time, got {_describe(value)}", "FieldValueTypeInvalid"
                )
            )
            return
        try:
            child.FromJsonString(value)
        except ValueError:
            errors.append(FieldError(where, f"invalid RFC 3339 time {value!r}", "FieldValueInvalid"))
        return
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(where, f"expected an object, got {_describe(value)}", "FieldValueTypeInvalid")
        )
        return
    child.SetInParent()  # an empty object is still "set", e.g. `running: {}`
    _decode_into(value, child, where, errors)


def _decode_map(value: Any, message: Message, field: Any, where: str, errors: list[FieldError]) -> None:
    if not isinstance(value, Mapping):
        errors.append(
            FieldError(where, f"expected an object, got {_describe(value)}", "FieldValueTypeInvalid")
        )
        return
    value_field = field.message_type.fields_by_name["value"]
    quantity = field_option(field, options_pb2.quantity)
    target = getattr(message, field.name)
    for key, item in value.items():
        item_path = f"{where}[{key}]"
        if not isinstance(key, str):
            errors.append(
                FieldError(item_path, f"expected a string key, got {_describe(key)}", "FieldValueTypeInvalid")
            )
            continue
        if quantity and isinstance(item, int | float) and not isinstance(item, bool):
            item = format(item, "g") if isinstance(item, float) else str(item)
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            if not isinstance(item, Mapping):
                errors.append(
                    FieldError(
                        item_path, f"expected an object, got {_describe(item)}", "FieldValueTypeInvalid"
                    )
                )
                continue
            _decode_into(item, target[key], item_path, errors)
            continue
        ok, converted = _scalar(value_field, item, item_path, errors)
        if ok:
            target[key] = converted


def _scalar(field: Any, value: Any, where: str, errors: list[FieldError]) -> tuple[bool, Any]:
    kind = field.type

    def wrong(expected: str) -> tuple[bool, Any]:
        errors.append(
            FieldError(where, f"expected {expected}, got {_describe(value)}", "FieldValueTypeInvalid")
        )
        return False, None

    if kind == FieldDescriptor.TYPE_STRING:
        if field_option(field, options_pb2.json_object):
            if not isinstance(value, Mapping):
                return wrong("an object")
            return True, json.dumps(value, sort_keys=True, separators=(",", ":"))
        if (
            field_option(field, options_pb2.int_or_string)
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            return True, str(value)
        return (True, value) if isinstance(value, str) else wrong("a string")
    if kind == FieldDescriptor.TYPE_BOOL:
        return (True, value) if isinstance(value, bool) else wrong("a boolean")
    if kind in _INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            return wrong("an integer")
        low, high = _INT_RANGES[kind]
        if not low <= value <= high:
            errors.append(
                FieldError(where, f"integer {value} out of range [{low}, {high}]", "FieldValueInvalid")
            )
            return False, None
        return True, value
    if kind in _FLOATS:
        return (
            (True, float(value))
            if isinstance(value, int | float) and not isinstance(value, bool)
            else wrong("a number")
        )
    if kind == FieldDescriptor.TYPE_BYTES:
        if not isinstance(value, str):
            return wrong("a base64 string")
        try:
            return True, base64.b64decode(value, validate=True)
        except binascii.Error:
            return wrong("a base64 string")
    if kind == FieldDescriptor.TYPE_ENUM:
        names = [v.name for v in field.enum_type.values]
        if isinstance(value, str) and value in names:
            return True, field.enum_type.values_by_name[value].number
        return wrong("one of " + ", ".join(names))
    raise TypeError(f"unsupported field type {kind} at {where}")  # a schema change the codec must learn


def encode(message: Message) -> dict[str, Any]:
    """`message` as a Kubernetes-style dict: JSON names, set fields only, in field-number order."""
    out: dict[str, Any] = {}
    field: Any
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if _is_map(field):
            if value:
                value_field = field.message_type.fields_by_name["value"]
                out[field.json_name] = {k: _encode_value(value_field, value[k]) for k in sorted(value)}
        elif field.is_repeated:
            if value:
                out[field.json_name] = [_encode_value(field, v) for v in value]
        elif field.type == FieldDescriptor.TYPE_MESSAGE or field.has_presence:
            if message.HasField(field.name):
                out[field.json_name] = _encode_value(field, value)
        elif value != field.default_value or field_option(field, options_pb2.always_emit):
            out[field.json_name] = _encode_value(field, value)
    return out


def _encode_value(field: Any, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == _TIMESTAMP:
            return value.ToJsonString()
        return encode(value)
    if field.type == FieldDescriptor.TYPE_BYTES:
        return base64.b64encode(value).decode("ascii")
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    if field.type == FieldDescriptor.TYPE_STRING and field_option(field, options_pb2.json_object):
        return json.loads(value) if value else {}
    if (
        field.type == FieldDescriptor.TYPE_STRING
        and field_option(field, options_pb2.int_or_string)
        and value.isdigit()
    ):
        return int(value)
    return value
