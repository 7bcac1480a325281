"""Server-side apply: which field manager owns which fields, and what an apply does with that (pure).

Fields are named as Kubernetes' FieldsV1 names them: a path of elements `f:<field>` (a field or
map key), `k:{"name":"main"}` (the item of a list merged on a key, see patch.MERGE_KEYS) and
`v:"value"` (an item of a list of strings kept as a set). Atomic lists and scalars are leaves.

An apply (manager M, the fields in its configuration F):
- conflicts with another manager N for every field in F that N owns and whose value F changes;
  unless forced, the apply fails naming them all (409); forced, N loses those fields;
- merges the configuration into the live object as a strategic merge patch;
- removes what M applied before and applies no more, unless someone else owns it too;
- leaves M owning exactly F (one "Apply" entry per manager), and every other manager what it had.
Writes that are not applies (update, patch) make their writer the owner of what they changed
("Update" entries), so a later apply conflicts with `kubectl scale` as in Kubernetes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import patch
from cluster.errors import Conflict, FieldError
from raykube.v1 import meta_pb2

Path = tuple[str, ...]
APPLY, UPDATE = "Apply", "Update"
_MISSING = object()
# Never owned: identity, type and what the system sets (Kubernetes leaves these out of FieldsV1).
_UNOWNED_TOP = {"apiVersion", "kind", "status"}
_UNOWNED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"}  # fmt: skip


@dataclass(frozen=True)
class Ownership:
    """One manager's fields, from one kind of write (an entry of metadata.managedFields)."""

    manager: str
    operation: str  # APPLY or UPDATE
    fields: frozenset[Path]


def fields_of(doc: Mapping[str, Any], descriptor: Any) -> frozenset[Path]:
    """Every field `doc` sets, as FieldsV1 paths (leaves, and the items of keyed lists and sets)."""
    found: set[Path] = set()
    top = {k: v for k, v in doc.items() if k not in _UNOWNED_TOP}
    meta = top.pop("metadata", None)
    if isinstance(meta, Mapping):
        owned_meta = {k: v for k, v in meta.items() if k not in _UNOWNED_META}
        if owned_meta:
            _walk(owned_meta, _child(descriptor, "metadata"), ("f:metadata",), found)
    _walk(top, descriptor, (), found)
    return frozenset(found)


def _child(descriptor: Descriptor | None, name: str) -> Descriptor | None:
    if descriptor is None:
        return None
    field = next((f for f in descriptor.fields if f.json_name == name), None)
    return field.message_type if field is not None and field.type == FieldDescriptor.TYPE_MESSAGE else None


def _walk(value: Mapping[str, Any], descriptor: Descriptor | None, prefix: Path, found: set[Path]) -> None:
    fields = {f.json_name: f for f in descriptor.fields} if descriptor is not None else {}
    for key, child in value.items():
        path = (*prefix, f"f:{key}")
        field = fields.get(key)
        if isinstance(child, Mapping) and child:
            is_map = field is not None and patch.is_map(field)
            _walk(child, None if is_map else patch.message_of(field), path, found)
        elif isinstance(child, list) and child and field is not None and descriptor is not None:
            merge_key = patch.MERGE_KEYS.get(f"{descriptor.name}.{key}")
            if merge_key is None:
                found.add(path)  # atomic: owned whole
            elif merge_key == "":
                found.update((*path, "v:" + _compact(item)) for item in child)
            else:
                for item in child:
                    if isinstance(item, Mapping) and merge_key in item:
                        item_path = (*path, "k:" + _compact({merge_key: item[merge_key]}))
                        found.add(item_path)
                        _walk(item, patch.message_of(field), item_path, found)
        else:
            found.add(path)


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def value_at(doc: Any, path: Path) -> Any:
    """The value at `path` in `doc`, or _MISSING."""
    for element in path:
        kind, _, name = element.partition(":")
        if kind == "f" and isinstance(doc, Mapping) and name in doc:
            doc = doc[name]
        elif kind == "k" and isinstance(doc, list):
            wanted = json.loads(name)
            doc = next((i for i in doc if isinstance(i, Mapping) and _matches(i, wanted)), _MISSING)
        elif kind == "v" and isinstance(doc, list) and json.loads(name) in doc:
            doc = json.loads(name)
        else:
            return _MISSING
        if doc is _MISSING:
            return _MISSING
    return doc


def _matches(item: Mapping[str, Any], key: Mapping[str, Any]) -> bool:
    return all(item.get(k) == v for k, v in key.items())


def remove(doc: dict[str, Any], paths: Iterable[Path]) -> None:
    """Delete each of `paths` from `doc` in place: shallowest first (a list item goes with its
    fields, which must still identify it by its key), already-gone paths skipped."""
    for path in sorted(paths, key=len):
        parent = value_at(doc, path[:-1])
        kind, _, name = path[-1].partition(":")
        if kind == "f" and isinstance(parent, dict):
            parent.pop(name, None)
        elif kind == "k" and isinstance(parent, list):
            wanted = json.loads(name)
            parent[:] = [i for i in parent if not (isinstance(i, Mapping) and _matches(i, wanted))]
        elif kind == "v" and isinstance(parent, list):
            value = json.loads(name)
            parent[:] = [i for i in parent if i != value]


def to_fields_v1(paths: Iterable[Path]) -> dict[str, Any]:
    """FieldsV1's nested form: a path that is also a prefix of others carries a "." member."""
    root: dict[str, Any] = {}
    ordered = sorted(paths)
    for path in ordered:
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in ordered:
        node = root
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}
    return root


def from_fields_v1(tree: Mapping[str, Any], prefix: Path = ()) -> frozenset[Path]:
    found: set[Path] = set()
    for element, child in tree.items():
        if element == ".":
            found.add(prefix)
            continue
        path = (*prefix, element)
        if isinstance(child, Mapping) and child:
            found |= from_fields_v1(child, path)
        else:
            found.add(path)
    return frozenset(found)


def _describe(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: .spec.containers[name="main"].image"""
    out = ""
    for element in path:
        kind, _, name = element.partition(":")
        if kind == "f":
            out += f".{name}"
        elif kind == "k":
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(name).items()) + "]"
        else:
            out += f"[={name}]"
    return out


class ApplyConflict(Conflict):
    """Fields another manager owns, which the apply would change: 409 naming each (force to take them)."""

    def __init__(self, conflicts: list[tuple[str, Path]], api_version: str):
        lines = [
            f'conflict with "{manager}" using {api_version}: {_describe(path)}' for manager, path in conflicts
        ]
        super().__init__(
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            + "\n".join(lines),
            causes=[
                FieldError(_describe(path), line, "FieldManagerConflict")
                for (_, path), line in zip(conflicts, lines, strict=True)
            ],
        )


def apply(
    live: Mapping[str, Any], config: Mapping[str, Any], owners: list[Ownership], manager: str, *,
    force: bool, descriptor: Any, api_version: str,
) -> tuple[dict[str, Any], list[Ownership]]:  # fmt: skip
    """The object after `manager` applies `config` to `live`, and the new ownership."""
    applied = fields_of(config, descriptor)
    conflicts = sorted(
        (owner.manager, path)
        for owner in owners
        if owner.manager != manager
        for path in owner.fields & applied
        if path[-1].startswith("f:") and value_at(config, path) != value_at(live, path)
    )
    if conflicts and not force:
        raise ApplyConflict(conflicts, api_version)
    taken = {path for _, path in conflicts}
    others = [Ownership(o.manager, o.operation, o.fields - taken) for o in owners if o.manager != manager]
    previous = next((o.fields for o in owners if o.manager == manager and o.operation == APPLY), frozenset())
    still_owned = set().union(*(o.fields for o in others)) if others else set()
    merged = patch.strategic_merge_patch(live, config, descriptor)
    remove(merged, previous - applied - still_owned)
    kept = [o for o in others if o.fields]
    updates = [o for o in owners if o.manager == manager and o.operation == UPDATE]
    kept += [Ownership(o.manager, o.operation, o.fields - applied) for o in updates if o.fields - applied]
    return merged, [*kept, Ownership(manager, APPLY, applied)]


def record_update(
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    owners: list[Ownership],
    manager: str,
    descriptor: Any,  # the message descriptor (protobuf's Python or upb type)
) -> list[Ownership]:
    """Ownership after `manager` wrote `new` over `old` without applying: it owns what it changed
    (set or removed), and nobody owns fields that are gone."""
    before, after = fields_of(old, descriptor), fields_of(new, descriptor)
    changed = {p for p in after if value_at(old, p) != value_at(new, p) and p[-1].startswith("f:")}
    changed |= {p for p in after - before}
    gone = before - after
    result: list[Ownership] = []
    mine: frozenset[Path] = frozenset()
    for owner in owners:
        if owner.manager == manager and owner.operation == UPDATE:
            mine = owner.fields - gone
            continue
        fields = owner.fields - changed - gone
        if fields:
            result.append(Ownership(owner.manager, owner.operation, fields))
    mine = mine | changed
    return [*result, Ownership(manager, UPDATE, mine)] if mine else result


def owners_of(meta: meta_pb2.ObjectMeta) -> list[Ownership]:
    """metadata.managedFields as ownerships (entries of another fieldsType are dropped)."""
    return [
        Ownership(e.manager, e.operation, from_fields_v1(json.loads(e.fields_v1 or "{}")))
        for e in meta.managed_fields
        if e.fields_type in ("", "FieldsV1")
    ]


def write_owners(
    meta: meta_pb2.ObjectMeta, owners: list[Ownership], api_version: str, now: Timestamp, writer: str
) -> None:
    """Set metadata.managedFields to `owners`; the `writer`'s entries are stamped `now`, the others
    keep their time."""
    times = {(e.manager, e.operation): e.time for e in meta.managed_fields}
    entries = []
    for owner in owners:
        entry = meta_pb2.ManagedFieldsEntry(
            manager=owner.manager, operation=owner.operation, api_version=api_version,
            fields_type="FieldsV1", fields_v1=_compact(to_fields_v1(owner.fields)),
        )  # fmt: skip
        entry.time.CopyFrom(
            now if owner.manager == writer else times.get((owner.manager, owner.operation), now)
        )
        entries.append(entry)
    del meta.managed_fields[:]
    meta.managed_fields.extend(entries)
