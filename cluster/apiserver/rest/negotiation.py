"""What a client asks for in its Accept header (pure): a server-side Table, or aggregated discovery
in one of the versions it offers (the answer must echo one of those exactly, or kubectl 1.27-1.29
fails to find any resource)."""

from __future__ import annotations

from dataclasses import dataclass

DISCOVERY_VERSIONS = ("v2", "v2beta1")


@dataclass(frozen=True)
class MediaType:
    type: str
    params: dict[str, str]


def media_types(accept: str) -> list[MediaType]:
    found = []
    for item in accept.split(","):
        kind, *rest = [part.strip() for part in item.split(";")]
        params = dict(p.split("=", 1) for p in rest if "=" in p)
        if kind:
            found.append(MediaType(kind.lower(), {k.strip(): v.strip() for k, v in params.items()}))
    return found


def wants_table(accept: str) -> bool:
    table = {"as": "Table", "g": "meta.k8s.io"}
    return any(
        all(m.params.get(k) == v for k, v in table.items()) and m.params.get("v") in ("v1", "v1beta1")
        for m in media_types(accept)
    )


def aggregated_discovery(accept: str) -> str:
    """The aggregated discovery version to answer with, the client's first supported one ("": legacy)."""
    for m in media_types(accept):
        discovery = (
            m.params.get("g") == "apidiscovery.k8s.io" and m.params.get("as") == "APIGroupDiscoveryList"
        )
        if discovery and m.params.get("v") in DISCOVERY_VERSIONS:
            return m.params["v"]
    return ""
