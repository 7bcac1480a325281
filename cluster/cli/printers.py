"""How objects look on a terminal: kubectl's tables (columns from cluster/api/tables.py) and -o formats.

Pure functions from objects (and "now") to text, so every column rule is unit-tested.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import yaml

from cluster.api import codec, resources, tables
from cluster.cli import jsonpath

OUTPUT_FORMATS = ("wide", "yaml", "json", "name", "jsonpath=TEMPLATE")


def ref(resource: resources.Resource[Any], name: str) -> str:
    """How kubectl names an object in its messages: pod/web, deployment.apps/web."""
    group = f".{resource.group}" if resource.group else ""
    return f"{resource.singular}{group}/{name}"


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, as kubectl prints them."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def render_table(
    resource: resources.Resource,
    objects: Sequence[Any],
    now: float,
    *,
    wide: bool,
    namespace_column: bool = False,
    kind_in_name: bool = False,
) -> str:
    """A table with kubectl's columns; `kind_in_name`: names as deployment.apps/web (several kinds shown)."""
    header, *rows = tables.rows(resource, objects, now, wide=wide)
    for obj, row in zip(objects, rows, strict=True):
        if kind_in_name:
            row[0] = ref(resource, row[0])
        if namespace_column:
            row.insert(0, obj.metadata.namespace)
    return table([(["NAMESPACE"] if namespace_column else []) + header, *rows])


def as_dict(objects: Sequence[resources.ApiObject], single: bool) -> dict[str, Any]:
    if single:
        return codec.encode(objects[0])
    return {"apiVersion": "v1", "kind": "List", "items": [codec.encode(o) for o in objects]}


def render(
    resource: resources.Resource,
    objects: Sequence[resources.ApiObject],
    output: str,
    now: float,
    *,
    single: bool = False,
    namespace_column: bool = False,
    kind_in_name: bool = False,
) -> str:
    """Objects in the -o format asked for ("" or "wide" for a table)."""
    if output in ("", "wide"):
        if not objects:
            return ""
        return render_table(resource, objects, now, wide=output == "wide", namespace_column=namespace_column,
                            kind_in_name=kind_in_name)  # fmt: skip
    if output == "name":
        return "\n".join(ref(resource, o.metadata.name) for o in objects)
    if output == "yaml":
        return yaml.safe_dump(as_dict(objects, single), sort_keys=False).rstrip()
    if output == "json":
        return json.dumps(as_dict(objects, single), indent=4)
    if output.startswith("jsonpath="):
        return jsonpath.render(output.removeprefix("jsonpath="), as_dict(objects, single))
    raise ValueError(
        f"unable to match a printer suitable for the output format {output!r}, allowed formats are: "
        + ",".join(OUTPUT_FORMATS)
    )
