"""A subset of kubectl's JSONPath templates: `{.status.podIP}`, `{.items[*].metadata.name}`, `{.a[0].b}`.

Text outside braces is printed as is; several results are joined by spaces, as kubectl does.
Anything beyond fields, indexes and [*] (filters, range) is rejected rather than misread.
"""

from __future__ import annotations

import json
import re
from typing import Any

_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\*|-?\d+)\]")


class JsonPathError(ValueError):
    pass


def _evaluate(path: str, data: Any) -> list[Any]:
    if path in ("", "."):
        return [data]
    values = [data]
    pos = 0
    while pos < len(path):
        match = _SEGMENT.match(path, pos)
        if match is None:
            raise JsonPathError(f"unsupported JSONPath expression {path!r} at {path[pos:]!r}")
        pos = match.end()
        field, index = match.groups()
        found: list[Any] = []
        for value in values:
            if field is not None:
                if isinstance(value, dict) and field in value:
                    found.append(value[field])
            elif isinstance(value, list):
                if index == "*":
                    found.extend(value)
                elif -len(value) <= int(index) < len(value):
                    found.append(value[int(index)])
        values = found
    return values


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def render(template: str, data: Any) -> str:
    out, pos = [], 0
    for match in re.finditer(r"\{([^{}]*)\}", template):
        out.append(template[pos : match.start()])
        out.append(" ".join(_text(v) for v in _evaluate(match.group(1).strip(), data)))
        pos = match.end()
    out.append(template[pos:])
    return "".join(out)
