"""Kubernetes' URL layout, parsed into what a request is about (pure).

    /api/v1[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]
    /apis/{group}/{version}[/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]

`/api/v1/namespaces/{name}[/{subresource}]` is the namespaces resource itself; a third segment that
names a namespaced resource of the group makes it a namespaced request instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster.api import resources
from cluster.api.resources import Resource
from cluster.errors import NotFound


@dataclass(frozen=True)
class Target:
    resource: Resource[Any]
    namespace: str = ""  # "" on a namespaced resource: every namespace (lists and watches)
    name: str = ""
    subresource: str = ""


SUBRESOURCES = {
    "pods": ("status", "log", "binding"),
    "nodes": ("status",),
    "namespaces": ("status", "finalize"),
    "deployments": ("status", "scale"),
    "replicasets": ("status", "scale"),
    "services": ("status",),
    "serviceaccounts": ("token",),
}


def group_version(group: str, version: str) -> dict[str, Resource[Any]]:
    """The resources served under one group/version, by plural name."""
    return {r.name: r for r in resources.ALL if r.group == group and r.version == version}


def is_resource_path(path: str) -> bool:
    """Whether `path` addresses a resource (rather than discovery or OpenAPI documents)."""
    parts = [p for p in path.split("/") if p]
    return (parts[:2] == ["api", "v1"] and len(parts) > 2) or (parts[:1] == ["apis"] and len(parts) > 3)


def parse(path: str) -> Target:
    """What `path` addresses; NotFound (404) for anything the API does not serve."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] == ["api", "v1"]:
        served, rest = group_version("", "v1"), parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        served, rest = group_version(parts[1], parts[2]), parts[3:]
    else:
        raise _not_found(path)
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] in served and served[rest[2]].namespaced:
        namespace, rest = rest[1], rest[2:]
    if not rest or rest[0] not in served or len(rest) > 3:
        raise _not_found(path)
    resource = served[rest[0]]
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if subresource and subresource not in SUBRESOURCES.get(resource.name, ()):
        raise _not_found(path)
    if namespace and not resource.namespaced:
        raise _not_found(path)
    return Target(resource, namespace, name, subresource)


def _not_found(path: str) -> NotFound:
    return NotFound(f"the server could not find the requested resource ({path})")
