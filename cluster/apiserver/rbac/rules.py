"""Whether RBAC rules allow a request, and whether one set of rules covers another (pure).

A request is a verb on a resource (with its API group, subresource and name) or on a
non-resource URL path. A rule allows it if it names the verb, the group, the resource (or
"resource/subresource"; "*" and "*/subresource" match any), and, when it lists resourceNames,
the name; or, for a path, lists it (a trailing "*" matches any suffix). Escalation prevention
asks whether the rules a user holds cover every request a new role would allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from raykube.v1 import rbac_pb2


@dataclass(frozen=True)
class Attributes:
    """What a request does, in RBAC's terms."""

    verb: str
    group: str = ""
    resource: str = ""  # "" for a non-resource request
    subresource: str = ""
    name: str = ""
    path: str = ""  # a non-resource request's URL path


def _has(values: Iterable[str], wanted: str) -> bool:
    return any(v == "*" or v == wanted for v in values)


def _resource_matches(rule: rbac_pb2.PolicyRule, resource: str, subresource: str) -> bool:
    combined = f"{resource}/{subresource}" if subresource else resource
    for listed in rule.resources:
        if listed in ("*", combined):
            return True
        if subresource and listed == f"*/{subresource}":
            return True
    return False


def _path_matches(rule: rbac_pb2.PolicyRule, path: str) -> bool:
    return any(p == path or (p.endswith("*") and path.startswith(p[:-1])) for p in rule.non_resource_urls)


def allows(rule: rbac_pb2.PolicyRule, request: Attributes) -> bool:
    if not _has(rule.verbs, request.verb):
        return False
    if not request.resource:
        return _path_matches(rule, request.path)
    return (
        _has(rule.api_groups, request.group)
        and _resource_matches(rule, request.resource, request.subresource)
        and (not rule.resource_names or request.name in rule.resource_names)
    )


def any_allows(rules: Iterable[rbac_pb2.PolicyRule], request: Attributes) -> bool:
    return any(allows(rule, request) for rule in rules)


def _atoms(rule: rbac_pb2.PolicyRule) -> Iterable[Attributes]:
    """Every single permission a rule grants, wildcards kept as they are ("*" is its own atom)."""
    for verb in rule.verbs:
        for path in rule.non_resource_urls:
            yield Attributes(verb, path=path)
        for group in rule.api_groups:
            for resource in rule.resources:
                base, _, sub = resource.partition("/")
                for name in rule.resource_names or [""]:
                    yield Attributes(verb, group, base, sub, name)


def _covered(owner: rbac_pb2.PolicyRule, atom: Attributes) -> bool:
    if not _has(owner.verbs, atom.verb):
        return False
    if not atom.resource:
        return any(
            p == atom.path or (p.endswith("*") and atom.path.startswith(p[:-1]))
            for p in owner.non_resource_urls
        )
    if not _has(owner.api_groups, atom.group):
        return False
    if not _resource_matches(owner, atom.resource, atom.subresource):
        return False
    if owner.resource_names:
        return bool(atom.name) and atom.name in owner.resource_names
    return True


def uncovered(owned: list[rbac_pb2.PolicyRule], wanted: Iterable[rbac_pb2.PolicyRule]) -> list[Attributes]:
    """The permissions in `wanted` that no rule in `owned` grants (empty: `owned` covers `wanted`)."""
    return [atom for rule in wanted for atom in _atoms(rule) if not any(_covered(o, atom) for o in owned)]
