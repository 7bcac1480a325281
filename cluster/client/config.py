"""Where clients find the cluster: a kubeconfig, the same file kubectl reads.

`raykube up` writes RAYKUBE_HOME/kubeconfig (mode 0600): the cluster's CA, the admin's client
certificate, and a cluster and context per API server: `raykube` (the current context) dials the
first, `raykube-1` the second (kubectl talks to one server; switch contexts if it is lost). Each
cluster also lists, as an extension kubectl ignores (`raykube.io/grpc`), the gRPC addresses of
every API server: raykube's own CLI tries them in turn, so it fails over by itself. The CLI
reads the file named by --kubeconfig, else the first of $KUBECONFIG, else RAYKUBE_HOME/kubeconfig,
and its current context (or --context), as kubectl does.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cluster.client.api import ApiClient
from cluster.tls import Tls

KUBECONFIG = "kubeconfig"
GRPC_EXTENSION = "raykube.io/grpc"
CLUSTER, USER, CONTEXT = "raykube", "admin", "raykube"


def raykube_home() -> Path:
    return Path(os.environ.get("RAYKUBE_HOME") or Path.home() / ".raykube")


@dataclass(frozen=True)
class ClientConfig:
    servers: tuple[str, ...]  # https://host:port of each API server's REST side (kubectl)
    grpc: tuple[str, ...]  # host:port of each API server's gRPC side (raykube's CLI), tried in turn
    tls: Tls | None  # the CA and the user's client certificate
    token: str = ""  # a bearer token, for users without a certificate
    namespace: str = "default"

    def client(self, *, timeout: float = 30.0) -> ApiClient:
        return ApiClient(self.grpc, self.token, tls=self.tls, timeout=timeout)


class NoConfig(Exception):
    """No usable kubeconfig: no cluster brought up from this home, or a file raykube cannot use."""


def kubeconfig_path(home: Path) -> Path:
    return home / KUBECONFIG


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def save(home: Path, config: ClientConfig) -> Path:
    """Write home/kubeconfig for `config` (readable by its owner only); its path."""
    grpc = {"name": GRPC_EXTENSION, "extension": {"servers": list(config.grpc)}}
    user: dict[str, Any] = {}
    if config.tls is not None:
        user |= {"client-certificate-data": _b64(config.tls.cert), "client-key-data": _b64(config.tls.key)}
    if config.token:
        user["token"] = config.token
    clusters, contexts = [], []
    for i, server in enumerate(config.servers):
        name = CLUSTER if i == 0 else f"{CLUSTER}-{i}"
        cluster: dict[str, Any] = {"server": server, "extensions": [grpc]}
        if config.tls is not None:
            cluster["certificate-authority-data"] = _b64(config.tls.ca)
        clusters.append({"name": name, "cluster": cluster})
        contexts.append(
            {"name": name, "context": {"cluster": name, "user": USER, "namespace": config.namespace}}
        )
    document = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": clusters, "users": [{"name": USER, "user": user}], "contexts": contexts,
        "current-context": CONTEXT,
    }  # fmt: skip
    home.mkdir(parents=True, exist_ok=True)
    path = kubeconfig_path(home)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        yaml.safe_dump(document, out, sort_keys=False)
    return path


def chosen_path(home: Path, explicit: str = "") -> Path:
    """--kubeconfig, else the first file of $KUBECONFIG, else home/kubeconfig."""
    if explicit:
        return Path(explicit)
    listed = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    return Path(listed[0]) if listed else kubeconfig_path(home)


def load(home: Path, *, path: str = "", context: str = "") -> ClientConfig:
    """The cluster and user of `context` (default: the current one) in the chosen kubeconfig."""
    where = chosen_path(home, path)
    try:
        document = yaml.safe_load(where.read_text()) or {}
    except FileNotFoundError:
        hint = "run `raykube up` first" if where == kubeconfig_path(home) else "no such file"
        raise NoConfig(f"no kubeconfig at {where}: {hint}") from None
    except yaml.YAMLError as err:
        raise NoConfig(f"{where} is not a kubeconfig: {err}") from None
    name = context or document.get("current-context") or ""
    found = _named(document, "contexts", name, where).get("context") or {}
    cluster = _named(document, "clusters", found.get("cluster", ""), where).get("cluster") or {}
    user = _named(document, "users", found.get("user", ""), where).get("user") or {}
    grpc = next((e.get("extension", {}).get("servers") for e in cluster.get("extensions") or []
                 if e.get("name") == GRPC_EXTENSION), None)  # fmt: skip
    if not grpc or not isinstance(grpc, list):
        raise NoConfig(
            f"context {name!r} in {where} names no raykube gRPC endpoint (extension {GRPC_EXTENSION})"
        )
    ca = _data(cluster, "certificate-authority")
    cert, key = _data(user, "client-certificate"), _data(user, "client-key")
    tls = Tls(ca, cert, key) if ca and cert and key else None
    return ClientConfig((str(cluster.get("server", "")),), tuple(str(g) for g in grpc), tls,
                        str(user.get("token", "")), str(found.get("namespace") or "default"))  # fmt: skip


def _named(document: dict[str, Any], section: str, name: str, where: Path) -> dict[str, Any]:
    entry = next((e for e in document.get(section) or [] if e.get("name") == name), None)
    if entry is None:
        raise NoConfig(f"{where}: no {section[:-1]} named {name!r}")
    return dict(entry)


def _data(section: dict[str, Any], field: str) -> str:
    """A PEM given inline (`<field>-data`, base64) or as a file path (`<field>`)."""
    if section.get(f"{field}-data"):
        return _unb64(section[f"{field}-data"])
    if section.get(field):
        return Path(section[field]).expanduser().read_text()
    return ""
