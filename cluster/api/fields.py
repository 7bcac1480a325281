"""Field selectors (kubectl's `--field-selector`): `a=b`, `a==b`, `a!=b`, comma-separated, all must hold.

Each resource declares which fields it can be selected by (resources.py); selecting on any other
field is a BadRequest, as in Kubernetes ("field label not supported").
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


class FieldSelectorError(ValueError):
    """A field selector that does not parse or names a field the resource does not support."""


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    equal: bool

    def matches(self, fields: Mapping[str, str]) -> bool:
        return (fields.get(self.field, "") == self.value) == self.equal


@dataclass(frozen=True)
class FieldSelector:
    requirements: tuple[FieldRequirement, ...] = ()

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(r.matches(fields) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def required_value(self, field: str) -> str | None:
        """The value `field` must equal, if the selector pins it (lets the API server narrow a watch)."""
        return next((r.value for r in self.requirements if r.field == field and r.equal), None)


def parse(text: str, supported: Collection[str]) -> FieldSelector:
    """Parse `text`; every field must be in `supported`."""
    reqs = []
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        op = next((o for o in ("!=", "==", "=") if o in part), None)
        if op is None:
            raise FieldSelectorError(f"invalid field selector {part!r}: expected field=value or field!=value")
        field, _, value = (s.strip() for s in part.partition(op))
        if field not in supported:
            raise FieldSelectorError(f'field label not supported: "{field}"')
        reqs.append(FieldRequirement(field, value, op != "!="))
    return FieldSelector(tuple(reqs))
