"""The three patch formats kubectl sends, applied to an object's JSON form (pure).

- JSON merge patch (RFC 7386, application/merge-patch+json): objects merge, null deletes, anything
  else (lists included) replaces.
- JSON patch (RFC 6902, application/json-patch+json): a list of operations, applied by `jsonpatch`
  (a maintained implementation of the RFC) rather than by hand.
- Strategic merge patch (application/strategic-merge-patch+json, Kubernetes' own): like a merge
  patch, except that lists Kubernetes marks `patchStrategy: merge` merge item by item on their
  `patchMergeKey` (containers by name, ports by containerPort, conditions by type, ...) or, for
  lists of strings, as sets; with the directives `$patch: replace|delete|merge`,
  `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`. Which lists merge
  on which key is Kubernetes' struct tags, keyed here by our message and JSON field name; the
  object's protobuf descriptor tells, at each level, which message a dict is.

Errors are BadRequest naming what was wrong; the caller validates the result like any write.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jsonpatch
from google.protobuf.descriptor import Descriptor, FieldDescriptor

from cluster.errors import BadRequest

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

# message.jsonField -> the merge key of its items ("" for a list of strings merged as a set);
# lists not named here are atomic: a patch replaces them whole.
MERGE_KEYS: dict[str, str] = {
    "PodSpec.containers": "name",
    "PodSpec.initContainers": "name",
    "PodSpec.volumes": "name",
    "PodSpec.imagePullSecrets": "name",
    "PodSpec.hostAliases": "ip",
    "Container.ports": "containerPort",
    "Container.env": "name",
    "Container.volumeMounts": "mountPath",
    "PodStatus.conditions": "type",
    "PodStatus.podIPs": "ip",
    "NodeSpec.podCIDRs": "",
    "ServiceStatus.conditions": "type",
    "NamespaceStatus.conditions": "type",
    "ObjectMeta.ownerReferences": "uid",
    "ObjectMeta.finalizers": "",
    "NodeStatus.conditions": "type",
    "NodeStatus.addresses": "type",
    "ServiceSpec.ports": "port",
    "ReplicaSetStatus.conditions": "type",
    "DeploymentStatus.conditions": "type",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: the result of applying `patch` to `target` (neither is modified)."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902: `operations` (a JSON list) applied to a copy of `target`."""
    if not isinstance(operations, list):
        raise BadRequest("a JSON patch must be a list of operations")
    try:
        return jsonpatch.JsonPatch(operations).apply(target)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as err:
        raise BadRequest(f"the JSON patch could not be applied: {err}") from None


def strategic_merge_patch(target: Mapping[str, Any], patch: Any, descriptor: Descriptor) -> dict[str, Any]:
    """Kubernetes' strategic merge patch of the object `target`, whose message is `descriptor`."""
    if not isinstance(patch, Mapping):
        raise BadRequest("a strategic merge patch must be a JSON object")
    merged = _merge_map(target, patch, descriptor, "")
    return merged if isinstance(merged, dict) else {}


_DELETE = object()  # `$patch: delete` on a map: the map goes


def _merge_map(target: Any, patch: Mapping[str, Any], descriptor: Descriptor | None, path: str) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    plain = {k: v for k, v in patch.items() if not k.startswith("$")}
    if directive == "replace":
        return _strip_directives(plain)
    if directive is not None:
        raise BadRequest(f'{path or "patch"}: unknown $patch directive "{directive}" (delete or replace)')
    result = dict(target) if isinstance(target, Mapping) else {}
    fields = {f.json_name: f for f in descriptor.fields} if descriptor is not None else {}
    for key, value in plain.items():
        where = f"{path}.{key}" if path else key
        field = fields.get(key)
        if value is None:
            result.pop(key, None)
            continue
        child = message_of(field)
        if field is not None and field.is_repeated and not is_map(field):
            result[key] = _merge_list(result.get(key), value, patch, descriptor, field, where)
        elif isinstance(value, Mapping) and (child is not None or is_map(field) or field is None):
            merged = _merge_map(result.get(key), value, None if is_map(field) else child, where)
            if merged is _DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name) or [] if v not in _strings(value, f"{path}.{key}")]
    if "$retainKeys" in patch:
        keep = set(_strings(patch["$retainKeys"], f"{path}.$retainKeys"))
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _strings(value: Any, where: str) -> list[str]:
    """A directive's list of strings (field names, or values to delete)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{where.lstrip('.')}: expected a list of strings")
    return value


def _merge_list(
    target: Any, value: Any, patch: Mapping[str, Any], owner: Descriptor | None, field: FieldDescriptor,
    path: str,
) -> list[Any]:  # fmt: skip
    if not isinstance(value, list):
        raise BadRequest(f"{path}: expected a list in the patch")
    current = list(target) if isinstance(target, list) else []
    key = MERGE_KEYS.get(f"{owner.name}.{field.json_name}") if owner is not None else None
    order = patch.get(f"$setElementOrder/{field.json_name}")
    if key is None:  # atomic
        return _strip_directives(value)
    if key == "":  # a set of strings
        merged = current + [v for v in value if v not in current]
        return _ordered(merged, order, lambda v: v)
    if any(isinstance(v, Mapping) and v.get("$patch") == "merge" for v in value):
        raise BadRequest(f"{path}: merging lists cannot yet be specified in the patch")
    if any(isinstance(v, Mapping) and v.get("$patch") == "replace" for v in value):
        return [_strip_directives(v) for v in value if not (isinstance(v, Mapping) and "$patch" in v)]
    child = message_of(field)
    for item in value:
        if not isinstance(item, Mapping) or key not in item:
            raise BadRequest(f"{path}: every item of this list must be an object with {key!r}")
        same = (i for i, old in enumerate(current) if isinstance(old, Mapping) and old.get(key) == item[key])
        index = next(same, None)
        if item.get("$patch") == "delete":
            if index is not None:
                del current[index]
            continue
        merged = _merge_map(
            current[index] if index is not None else None, item, child, f"{path}[{key}={item[key]}]"
        )
        if index is None:
            current.append(merged)
        else:
            current[index] = merged
    return _ordered(current, order, lambda v: v.get(key) if isinstance(v, Mapping) else None)


def _ordered(items: list[Any], order: Any, key_of: Any) -> list[Any]:
    """`$setElementOrder`: items named in `order` first, in that order; the rest after, as they were."""
    if not isinstance(order, list):
        return items
    wanted = [o if not isinstance(o, Mapping) else next(iter(o.values()), None) for o in order]
    rank = {k: i for i, k in enumerate(wanted)}
    return sorted(items, key=lambda v: rank.get(key_of(v), len(rank)))


def _strip_directives(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


def is_map(field: FieldDescriptor | None) -> bool:
    return field is not None and field.message_type is not None and field.message_type.GetOptions().map_entry


def message_of(field: FieldDescriptor | None) -> Descriptor | None:
    if field is None or field.type != FieldDescriptor.TYPE_MESSAGE or is_map(field):
        return None
    return field.message_type
