"""Authentication by bearer token or client certificate, and the fixed authorization policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.apiserver import auth
from cluster.bootstrap.pki import CertificateAuthority, Identity
from cluster.errors import BadRequest, Forbidden, Unauthorized

TOKEN_FILE = 'secret-a,admin,1,"system:masters"\nsecret-s,system:kube-scheduler,2\n# comment\nsecret-n,system:node:n1,3,"system:nodes"\n'


def test_token_file_round_trip() -> None:
    tokens = auth.parse_token_file(TOKEN_FILE)
    assert tokens["secret-a"] == auth.UserInfo("admin", "1", frozenset({"system:masters"}))
    assert auth.parse_token_file(auth.format_token_file(tokens)) == tokens
    with pytest.raises(BadRequest, match="line 1"):
        auth.parse_token_file("only-a-token\n")


def test_authenticate_by_token_or_certificate(tmp_path: Path) -> None:
    authn = auth.Authenticator(auth.parse_token_file(TOKEN_FILE))
    user = authn.from_metadata([("authorization", "Bearer secret-s")])
    assert user.name == "system:kube-scheduler" and auth.AUTHENTICATED_GROUP in user.groups
    for metadata in ([], [("authorization", "Bearer nope")], [("authorization", "Basic secret-a")]):
        with pytest.raises(Unauthorized):
            authn.from_metadata(metadata)
    ca = CertificateAuthority.ensure(tmp_path)
    cert_pem, _ = ca.issue(Identity("system:node:n1", ("system:nodes",), client=True))
    by_cert = authn.authenticate(
        certificate=cert_pem, authorization="Bearer secret-s"
    )  # the certificate wins
    assert (by_cert.name, by_cert.groups) == (
        "system:node:n1",
        frozenset({"system:nodes", auth.AUTHENTICATED_GROUP}),
    )
    with pytest.raises(Unauthorized, match="unreadable"):
        authn.authenticate(certificate=b"garbage")


def who(name: str, *groups: str) -> auth.UserInfo:
    return auth.UserInfo(name, groups=frozenset({*groups, auth.AUTHENTICATED_GROUP}))


ADMIN = who("admin", auth.ADMIN_GROUP)
SCHEDULER = who(auth.SCHEDULER_USER)
NODE = who("system:node:n1", auth.NODES_GROUP)
NOBODY = who("nobody")


@pytest.mark.parametrize(
    ("user", "verb", "resource", "subresource", "name", "allowed"),
    [
        (ADMIN, "delete", "nodes", "", "n1", True),
        (SCHEDULER, "watch", "pods", "", "", True),
        (SCHEDULER, "create", "pods", "binding", "p", True),
        (SCHEDULER, "update", "pods", "status", "p", True),
        (SCHEDULER, "update", "pods", "", "p", False),
        (SCHEDULER, "delete", "pods", "", "p", False),
        (NODE, "update", "pods", "status", "p", True),
        (NODE, "delete", "pods", "", "p", True),
        (NODE, "create", "pods", "binding", "p", False),
        (NODE, "update", "nodes", "status", "n1", True),
        (NODE, "update", "nodes", "status", "n2", False),  # NodeRestriction
        (NODE, "create", "nodes", "", "n2", False),
        (NODE, "list", "nodes", "", "", True),
        (NOBODY, "create", "selfsubjectreviews", "", "", True),
        (NOBODY, "get", "pods", "", "p", False),
    ],
)
def test_policy(
    user: auth.UserInfo, verb: str, resource: str, subresource: str, name: str, allowed: bool
) -> None:
    request = auth.Request(user, verb, resource, subresource, "default" if resource == "pods" else "", name)
    if allowed:
        auth.Authorizer().authorize(request)
    else:
        with pytest.raises(Forbidden, match=f'User "{user.name}" cannot {verb}'):
            auth.Authorizer().authorize(request)
