"""Who is calling (authentication) and what they may do (authorization).

Authentication: client certificates signed by the cluster CA (CN = user, O = groups), or bearer
tokens from a static token file, in kube-apiserver's `--token-auth-file` format:
`token,user,uid,"group1,group2"` per line. `raykube up` writes one with a token for the
admin (group system:masters), the scheduler, and each kubelet (system:node:<name>, group system:nodes).

Authorization: a fixed RBAC-like policy, the default roles Kubernetes binds to those identities:
cluster-admin for system:masters; the scheduler may read pods and nodes, bind pods, write pod
status, and keep its leader Lease and Events; the controller manager may read everything and
write the objects it reconciles; nodes may read pods and nodes, write their own Node and their
own heartbeat Lease (the NodeRestriction rule), write pod status, finish pod deletion and
record Events. Every authenticated user may ask who it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

from cluster.api import wellknown
from cluster.errors import BadRequest, Forbidden, Unauthorized

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
    group: str = ""  # the resource's API group ("" for core), for messages


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


class Authenticator:
    """Who a request comes from: a client certificate the TLS layer verified against the cluster CA
    (CN = user, O = groups, as kube-apiserver reads them), else a bearer token from the token file."""

    def __init__(self, tokens: Mapping[str, UserInfo]):
        self._tokens = dict(tokens)

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
            found = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
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


def _certificate_user(data: bytes) -> UserInfo:
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


@dataclass(frozen=True)
class Rule:
    verbs: frozenset[str]
    resources: frozenset[str]  # "pods", "pods/status", or "*"

    def allows(self, verb: str, resource: str) -> bool:
        return ("*" in self.verbs or verb in self.verbs) and (
            "*" in self.resources or resource in self.resources
        )


def _rule(verbs: str, resources: str) -> Rule:
    return Rule(frozenset(verbs.split()), frozenset(resources.split()))


READ = "get list watch"
WRITE = "create update delete"
ROLES: dict[str, tuple[Rule, ...]] = {
    "cluster-admin": (_rule("*", "*"),),
    "system:kube-scheduler": (
        _rule(READ, "pods nodes namespaces"),
        _rule("create", "pods/binding"),
        _rule("update", "pods/status"),
        _rule(f"{READ} {WRITE}", "leases events"),
    ),
    "system:kube-controller-manager": (
        _rule(READ, "*"),
        _rule(WRITE, "pods replicasets deployments namespaces events leases nodes endpoints endpointslices"),
        _rule("update", "replicasets/status deployments/status namespaces/status nodes/status pods/status"),
    ),
    "system:node": (
        _rule(READ, "pods nodes namespaces"),
        _rule("create update", "nodes nodes/status"),
        _rule("update", "pods/status"),
        _rule("delete", "pods"),
        _rule(f"{READ} create update", "leases events"),
    ),
    "system:node-proxier": (
        _rule(READ, "services endpoints endpointslices nodes"),
        _rule("create update", "events"),
    ),
    "system:basic-user": (_rule("create", "selfsubjectreviews"),),
}
GROUP_ROLES = {
    ADMIN_GROUP: "cluster-admin",
    NODES_GROUP: "system:node",
    AUTHENTICATED_GROUP: "system:basic-user",
}
USER_ROLES = {
    SCHEDULER_USER: "system:kube-scheduler",
    CONTROLLER_MANAGER_USER: "system:kube-controller-manager",
    PROXY_USER: "system:node-proxier",
}


class Authorizer:
    def authorize(self, request: Request) -> None:
        """Return if allowed; raise Forbidden with Kubernetes' wording otherwise."""
        target = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
        roles = [GROUP_ROLES[g] for g in request.user.groups if g in GROUP_ROLES]
        roles += [USER_ROLES[request.user.name]] if request.user.name in USER_ROLES else []
        allowed = any(rule.allows(request.verb, target) for role in roles for rule in ROLES[role])
        if allowed and not self._node_restriction(request):
            allowed = False
        if not allowed:
            scope = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
            subject = f'{target} "{request.name}"' if request.name else target
            who = f'User "{request.user.name}" cannot {request.verb} resource "{target}"'
            raise Forbidden(f'{subject} is forbidden: {who} in API group "{request.group}" {scope}')

    @staticmethod
    def _node_restriction(request: Request) -> bool:
        """A node may write only its own Node object and its own heartbeat Lease (kube-apiserver's
        NodeRestriction admission)."""
        user = request.user
        if (
            ADMIN_GROUP in user.groups
            or NODES_GROUP not in user.groups
            or request.verb in ("get", "list", "watch")
        ):
            return True
        if request.resource == "nodes":
            return user.name == NODE_USER_PREFIX + request.name
        if request.resource == "leases":
            return (
                request.namespace == wellknown.NAMESPACE_NODE_LEASE
                and user.name == NODE_USER_PREFIX + request.name
            )
        return True
