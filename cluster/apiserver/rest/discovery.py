"""What the API serves, described the ways kubectl asks (pure): /version, legacy discovery
(/api, /apis, /api/v1, /apis/{group}/{version}) and aggregated discovery (apidiscovery.k8s.io v2
and v2beta1, same shape, the version echoed).

/version's minor decides which kubectl the gcloud dispatcher runs (KUBECTL.md): raykube reports
Kubernetes 1.30, whose API it follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster.api import resources
from cluster.apiserver.rest.paths import SUBRESOURCES

VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0-raykube", "gitCommit": "",
           "gitTreeState": "clean", "buildDate": "2026-12-01T00:00:00Z", "goVersion": "python3",
           "compiler": "cpython", "platform": "linux/amd64"}  # fmt: skip
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
ALL_CATEGORY = frozenset({"pods", "services", "deployments", "replicasets"})  # what `kubectl get all` lists
# subresource -> (its kind as (group, version, kind), or None for the parent's; its verbs)
SUBRESOURCE_KINDS: dict[str, tuple[tuple[str, str, str] | None, list[str]]] = {
    "status": (None, ["get", "patch", "update"]),
    "log": (None, ["get"]),
    "binding": (("", "v1", "Binding"), ["create"]),
    "finalize": (None, ["update"]),
    "scale": (("autoscaling", "v1", "Scale"), ["get", "patch", "update"]),
    "token": (("authentication.k8s.io", "v1", "TokenRequest"), ["create"]),
}


@dataclass(frozen=True)
class Served:
    """One resource as discovery describes it: a stored kind, or a review (create-only, never stored)."""

    group: str
    version: str
    name: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = tuple(VERBS)
    short_names: tuple[str, ...] = ()


REVIEWS = (
    Served(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "",
        "SelfSubjectAccessReview",
        False,
        ("create",),
    ),
    Served("authentication.k8s.io", "v1", "selfsubjectreviews", "", "SelfSubjectReview", False, ("create",)),
)
SERVED = (
    *(Served(r.group, r.version, r.name, r.singular, r.kind, r.namespaced, short_names=r.short_names)
      for r in resources.ALL),
    *REVIEWS,
)  # fmt: skip


def groups() -> list[tuple[str, str]]:
    """(group, version) pairs served besides the core group, in a stable order."""
    return sorted({(r.group, r.version) for r in SERVED if r.group})


def api_versions(server_address: str) -> dict[str, Any]:
    cidrs = [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": cidrs}


def _group(group: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g, v) for g, v in groups()]}


def api_group(group: str) -> dict[str, Any] | None:
    versions = [v for g, v in groups() if g == group]
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions[0])} if versions else None


def _served(group: str, version: str) -> list[Served]:
    return [r for r in SERVED if r.group == group and r.version == version]


def resource_list(group: str, version: str) -> dict[str, Any] | None:
    served = _served(group, version)
    if not served:
        return None
    entries: list[dict[str, Any]] = []
    for r in served:
        entry = {"name": r.name, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": list(r.verbs), "shortNames": list(r.short_names)}  # fmt: skip
        if r.name in ALL_CATEGORY:
            entry["categories"] = ["all"]
        entries.append(entry)
        for sub in SUBRESOURCES.get(r.name, ()):
            kind, verbs = SUBRESOURCE_KINDS[sub]
            sub_entry = {"name": f"{r.name}/{sub}", "singularName": "", "namespaced": r.namespaced,
                         "kind": kind[2] if kind else r.kind, "verbs": verbs}  # fmt: skip
            if kind and kind[0]:
                sub_entry |= {"group": kind[0], "version": kind[1]}
            entries.append(sub_entry)
    api_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version, "resources": entries}


def _kind(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _discovered(r: Served) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.name, "responseKind": _kind(r.group, r.version, r.kind),
        "scope": "Namespaced" if r.namespaced else "Cluster", "singularResource": r.singular,
        "verbs": list(r.verbs),
    }  # fmt: skip
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.name in ALL_CATEGORY:
        entry["categories"] = ["all"]
    subresources = []
    for sub in SUBRESOURCES.get(r.name, ()):
        kind, verbs = SUBRESOURCE_KINDS[sub]
        response = _kind(*kind) if kind else _kind(r.group, r.version, r.kind)
        subresources.append({"subresource": sub, "responseKind": response, "verbs": verbs})
    if subresources:
        entry["subresources"] = subresources
    return entry


def aggregated(version: str, *, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for /api (`core`) or /apis, in apidiscovery.k8s.io/`version`."""
    pairs = [("", "v1")] if core else groups()
    items = [
        {"metadata": {"name": group, "creationTimestamp": None},
         "versions": [{"version": v, "resources": [_discovered(r) for r in _served(group, v)],
                       "freshness": "Current"}]}
        for group, v in pairs
    ]  # fmt: skip
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}  # fmt: skip


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
