"""The cluster's credentials in RAYKUBE_HOME: certificates for every component and the admin
(pki/, pki.py), and the API server's token file (bearer tokens, one per identity).

Every component authenticates with a client certificate (CN = its user, O = its groups) over TLS;
servers (API server, store replicas, kubelets) present serving certificates for the name
`raykube` (what gRPC clients check, whichever address they dial) and for the addresses people
dial (127.0.0.1, the hosts' addresses, the `kubernetes` Service). Certificates that no longer fit
(a host joined: new addresses) or near expiry are issued again by the next `up`. Tokens are made
once and kept. Files holding secrets are written with mode 0600.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cluster.apiserver import auth
from cluster.apiserver.serviceaccounts import new_signing_key
from cluster.bootstrap.pki import CertificateAuthority, Identity
from cluster.tls import SERVER_NAME, Tls

TOKENS_FILE = "tokens.csv"
ADMIN_USER = "admin"
KUBELET_CLIENT_USER = "system:apiserver-kubelet-client"  # the API server, when it calls kubelets
PKI_DIR = "pki"
KUBERNETES_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (mode 0600 before anything is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def node_user(host: str) -> str:
    return auth.NODE_USER_PREFIX + host


def ensure_tokens(home: Path, hosts: list[str]) -> dict[str, auth.UserInfo]:
    """The token file, extended with a token for every identity the cluster needs (created once)."""
    path = home / TOKENS_FILE
    tokens = auth.parse_token_file(path.read_text()) if path.exists() else {}
    have = {user.name for user in tokens.values()}
    wanted = [
        auth.UserInfo(ADMIN_USER, ADMIN_USER, frozenset({auth.ADMIN_GROUP})),
        auth.UserInfo(auth.SCHEDULER_USER, auth.SCHEDULER_USER),
        auth.UserInfo(auth.CONTROLLER_MANAGER_USER, auth.CONTROLLER_MANAGER_USER),
        auth.UserInfo(auth.PROXY_USER, auth.PROXY_USER),
        auth.UserInfo(KUBELET_CLIENT_USER, KUBELET_CLIENT_USER),
        *(auth.UserInfo(node_user(h), node_user(h), frozenset({auth.NODES_GROUP})) for h in hosts),
    ]
    for user in wanted:
        if user.name not in have:
            tokens[secrets.token_urlsafe(24)] = user
    write_private(path, auth.format_token_file(tokens))
    return tokens


def token_of(tokens: dict[str, auth.UserInfo], user: str) -> str:
    return next(token for token, info in tokens.items() if info.name == user)


@dataclass(frozen=True)
class Pki:
    """The issued certificates, by name (see `identities`), ready to hand to components."""

    ca: str
    pairs: dict[str, tuple[str, str]]  # name -> (certificate, key) PEM
    service_account_key: str  # the API server signs ServiceAccount tokens with it (PEM)

    def tls(self, name: str) -> Tls:
        cert, key = self.pairs[name]
        return Tls(self.ca, cert, key)


def identities(hosts: Iterable[str], addresses: Iterable[str], kubernetes_ip: str) -> dict[str, Identity]:
    """Every certificate the cluster needs: servers answer to `raykube` and to the addresses given."""
    ips = tuple(sorted({"127.0.0.1", *addresses}))
    names = (SERVER_NAME, "localhost")
    wanted = {
        "apiserver": Identity(
            "kube-apiserver", (), (*names, *KUBERNETES_NAMES), (*ips, kubernetes_ip), True, True
        ),
        "apiserver-kubelet-client": Identity(KUBELET_CLIENT_USER, client=True),
        "store": Identity("raykube-store", (), names, ips, server=True, client=True),
        "admin": Identity(ADMIN_USER, (auth.ADMIN_GROUP,), client=True),
        # these three also serve gRPC health (on loopback), so they are servers too
        "scheduler": Identity(auth.SCHEDULER_USER, (), names, ips, server=True, client=True),
        "controller-manager": Identity(
            auth.CONTROLLER_MANAGER_USER, (), names, ips, server=True, client=True
        ),
        "proxy": Identity(auth.PROXY_USER, (), names, ips, server=True, client=True),
    }
    for host in hosts:
        wanted[f"kubelet-{host}"] = Identity(node_user(host), (auth.NODES_GROUP,), names, ips, True, True)
    return wanted


def ensure_pki(home: Path, wanted: dict[str, Identity]) -> Pki:
    """The CA and a certificate for each of `wanted` in home/pki, issued where missing or unfit."""
    directory = home / PKI_DIR
    ca = CertificateAuthority.ensure(directory)
    pairs = {}
    for name, identity in wanted.items():
        cert, key = ca.ensure_pair(directory, name, identity).read()
        pairs[name] = (cert.decode(), key.decode())
    signing = directory / "service-account.key"
    if not signing.exists():
        write_private(signing, new_signing_key())
    return Pki(ca.pair.cert.read_text(), pairs, signing.read_text())
