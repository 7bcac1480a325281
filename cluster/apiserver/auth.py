"""Who is calling (authentication) and what they may do (authorization).

Authentication: client certificates signed by the cluster CA (CN = user, O = groups), or bearer
tokens from a static token file, in kube-apiserver's `--token-auth-file` format:
`token,user,uid,"group1,group2"` per line. `raykube up` writes one with a token for the
admin (group system:masters), the scheduler, and each kubelet (system:node:<name>, group system:nodes).

Authorization is RBAC over roles and bindings stored as objects (rbac/): the `Authorizer`
protocol here is what the API's operations ask.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cryptography import x509
from cryptography.x509.oid import NameOID

from cluster.errors import BadRequest, Unauthorized

ADMIN_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
SCHEDULER_USER = "system:kube-scheduler"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"
PROXY_USER = "system:kube-proxy"
AUTHENTICATED_GROUP = "system:authenticated"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Request:
    """What a call wants to do, in Kubernetes' authorization attributes."""

    user: UserInfo
    verb: str  # get, list, watch, create, update, delete
    resource: str  # pods, nodes, selfsubjectreviews
    subresource: str = ""  # status, binding, log
    namespace: str = ""
    name: str = ""
    group: str = ""  # the resource's API group ("" for core)
    path: str = ""  # a non-resource request's URL path (resource "")


def parse_token_file(text: str) -> dict[str, UserInfo]:
    """Tokens from `token,user,uid,"group1,group2"` lines; BadRequest names the bad line."""
    tokens: dict[str, UserInfo] = {}
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or row[0].startswith("#"):
            continue
        if len(row) < 2 or not row[0] or not row[1]:
            raise BadRequest(f'token file line {number}: expected token,user[,uid[,"groups"]]')
        groups = frozenset(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else frozenset()
        tokens[row[0]] = UserInfo(row[1], row[2] if len(row) > 2 else "", groups)
    return tokens


def format_token_file(tokens: Mapping[str, UserInfo]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for token, user in tokens.items():
        writer.writerow([token, user.name, user.uid, ",".join(sorted(user.groups))])
    return out.getvalue()


class TokenAuthenticator(Protocol):
    def authenticate(self, token: str) -> UserInfo | None:
        """The user a bearer token speaks for; None if it is not of this kind."""
        ...


class Authenticator:
    """Who a request comes from: a client certificate the TLS layer verified against the cluster CA
    (CN = user, O = groups, as kube-apiserver reads them), else a bearer token: from the token file,
    or one `others` (ServiceAccount tokens) recognize."""

    def __init__(self, tokens: Mapping[str, UserInfo], others: TokenAuthenticator | None = None):
        self._tokens = dict(tokens)
        self._others = others

    def authenticate(
        self, *, authorization: str | bytes | None = None, certificate: bytes | None = None
    ) -> UserInfo:
        """`authorization`: the Authorization header or metadata; `certificate`: the peer's, DER or PEM."""
        if certificate:
            user = _certificate_user(certificate)
        elif authorization is None:
            raise Unauthorized("Unauthorized")
        else:
            text = authorization.decode() if isinstance(authorization, bytes) else authorization
            scheme, _, token = text.partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthorized("Unauthorized")
            found = self._tokens.get(token.strip())
            if found is None and self._others is not None:
                found = self._others.authenticate(token.strip())
            if found is None:
                raise Unauthorized("Unauthorized")
            user = found
        return UserInfo(user.name, user.uid, user.groups | {AUTHENTICATED_GROUP})

    def from_metadata(
        self, metadata: Iterable[tuple[str, str | bytes]], certificate: bytes | None = None
    ) -> UserInfo:
        """For gRPC: the bearer token in metadata 'authorization', or the peer certificate."""
        header = next((v for k, v in metadata if k == "authorization"), None)
        return self.authenticate(authorization=header, certificate=certificate)


@functools.lru_cache(maxsize=4096)
def _certificate_user(data: bytes) -> UserInfo:
    """The user a verified client certificate names. Cached: every gRPC call presents its
    connection's certificate, and parsing it was ~3% of the API server's CPU under load."""
    try:
        cert = (
            x509.load_pem_x509_certificate(data)
            if data.startswith(b"-----")
            else x509.load_der_x509_certificate(data)
        )
    except ValueError:
        raise Unauthorized("Unauthorized: unreadable client certificate") from None
    common = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not common:
        raise Unauthorized("Unauthorized: the client certificate has no common name")
    groups = frozenset(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    return UserInfo(str(common[0].value), "", groups)


class Authorizer(Protocol):
    def authorize(self, request: Request) -> None:
        """Return if `request` is allowed; raise Forbidden (naming user, verb, resource, scope) if not."""
        ...
