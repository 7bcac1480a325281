"""Authentication by bearer token or client certificate, and RBAC over the bootstrap policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cluster.api import resources
from cluster.apiserver import auth
from cluster.apiserver.rbac import bootstrap
from cluster.apiserver.rbac.authorizer import RbacAuthorizer
from cluster.bootstrap.pki import CertificateAuthority, Identity
from cluster.errors import BadRequest, Forbidden, Unauthorized
from raykube.v1 import pod_pb2, rbac_pb2

RBAC = "rbac.authorization.k8s.io"

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
    # Certificates are remembered (parsed once), each as its own user.
    other_pem, _ = ca.issue(Identity("system:node:n2", ("system:nodes",), client=True))
    for _ in range(2):
        assert authn.authenticate(certificate=other_pem).name == "system:node:n2"
        assert authn.authenticate(certificate=cert_pem).name == "system:node:n1"
    with pytest.raises(Unauthorized, match="unreadable"):
        authn.authenticate(certificate=b"garbage")


def who(name: str, *groups: str) -> auth.UserInfo:
    return auth.UserInfo(name, groups=frozenset({*groups, auth.AUTHENTICATED_GROUP}))


ADMIN = who("admin", auth.ADMIN_GROUP)
SCHEDULER = who(auth.SCHEDULER_USER)
NODE = who("system:node:n1", auth.NODES_GROUP)
NOBODY = who("nobody")
JANE = who("jane")


class Cache:
    def __init__(self, objects: list[Any]):
        self.objects = {resources.of(o).key(o.metadata.namespace, o.metadata.name): o for o in objects}
        self.revision = 1

    def put(self, obj: Any) -> None:
        """What the watch cache does on an event: the object, at a newer revision."""
        self.objects[resources.of(obj).key(obj.metadata.namespace, obj.metadata.name)] = obj
        self.revision += 1


def authorizer(*extra: Any) -> RbacAuthorizer:
    """The RBAC authorizer over the bootstrap policy (and `extra` objects), held in plain caches."""
    objects = [*bootstrap.cluster_roles(), *bootstrap.cluster_role_bindings(), *extra]
    bound = pod_pb2.Pod()
    bound.metadata.namespace, bound.metadata.name, bound.spec.node_name = "default", "on-n1", "n1"
    objects.append(bound)
    return RbacAuthorizer(
        {r.name: Cache([o for o in objects if resources.of(o) is r]) for r in resources.ALL}
    )


def request(user: auth.UserInfo, verb: str, resource: str, sub: str = "", name: str = "", ns: str = "",
            group: str = "") -> auth.Request:  # fmt: skip
    return auth.Request(user, verb, resource, sub, ns, name, group)


def jane_views_shop() -> rbac_pb2.RoleBinding:
    binding = rbac_pb2.RoleBinding(subjects=[rbac_pb2.Subject(kind="User", api_group=RBAC, name="jane")],
                                   role_ref=rbac_pb2.RoleRef(api_group=RBAC, kind="ClusterRole", name="view"))  # fmt: skip
    binding.metadata.namespace, binding.metadata.name = "shop", "jane-views"
    return binding


@pytest.mark.parametrize(
    ("asked", "allowed"),
    [
        (request(ADMIN, "delete", "nodes", name="n1"), True),
        (request(SCHEDULER, "watch", "pods"), True),
        (request(SCHEDULER, "create", "pods", "binding", "p", "default"), True),
        (request(SCHEDULER, "update", "pods", "status", "p", "default"), True),
        (request(SCHEDULER, "update", "pods", "", "p", "default"), False),
        (request(SCHEDULER, "delete", "pods", "", "p", "default"), True),  # preemption evicts
        (request(SCHEDULER, "delete", "nodes", "", "n1"), False),
        (request(NODE, "update", "pods", "status", "on-n1", "default"), True),
        (request(NODE, "update", "pods", "status", "elsewhere", "default"), True),  # missing: its 404 follows
        (request(NODE, "delete", "pods", "", "on-n1", "default"), True),
        (request(NODE, "create", "pods", "binding", "p", "default"), False),
        (request(NODE, "update", "nodes", "status", "n1"), True),
        (request(NODE, "update", "nodes", "status", "n2"), False),  # a node writes only its own Node
        (request(NODE, "create", "nodes", "", "n2"), False),
        (request(NODE, "update", "leases", "", "n2", "kube-node-lease", "coordination.k8s.io"), False),
        (request(NODE, "list", "nodes"), True),
        (request(NOBODY, "create", "selfsubjectreviews", group="authentication.k8s.io"), True),
        (auth.Request(NOBODY, "get", "", path="/apis/apps/v1"), True),  # discovery
        (auth.Request(NOBODY, "get", "", path="/metrics"), False),
        (request(NOBODY, "get", "pods", "", "p", "default"), False),
        (request(JANE, "get", "pods", "", "p", "shop"), True),  # view in shop (a RoleBinding)
        (request(JANE, "get", "pods", "log", "p", "shop"), True),
        (request(JANE, "delete", "pods", "", "p", "shop"), False),
        (request(JANE, "get", "pods", "", "p", "default"), False),  # not bound there
        (request(JANE, "list", "deployments", "scale", "", "shop", "apps"), True),
        (request(JANE, "list", "deployments", "", "", "shop", ""), False),  # the core group has none
    ],
)
def test_rbac(asked: auth.Request, allowed: bool) -> None:
    checker = authorizer(jane_views_shop())
    if allowed:
        checker.authorize(asked)
    else:
        with pytest.raises(Forbidden, match=f'User "{asked.user.name}" cannot {asked.verb}'):
            checker.authorize(asked)


def test_a_new_binding_counts_from_the_next_request_on() -> None:
    checker = authorizer()
    asked = request(JANE, "get", "pods", "", "p", "shop")
    assert not checker.allowed(asked)  # remembered for jane in shop until the bindings change
    checker._caches[resources.ROLEBINDINGS.name].put(jane_views_shop())
    assert checker.allowed(asked)


def test_a_rule_with_resource_names_is_answered_per_name() -> None:
    only_a = rbac_pb2.Role(rules=[rbac_pb2.PolicyRule(verbs=["get"], api_groups=[""], resources=["pods"],
                                                      resource_names=["a"])])  # fmt: skip
    only_a.metadata.namespace, only_a.metadata.name = "shop", "pod-a"
    binding = jane_views_shop()
    binding.role_ref.kind, binding.role_ref.name = "Role", "pod-a"
    checker = authorizer(only_a, binding)
    asked = [request(JANE, "get", "pods", "", name, "shop") for name in ("a", "b", "a")]
    assert [checker.allowed(a) for a in asked] == [True, False, True]


def test_nodes_write_only_the_pods_bound_to_them() -> None:
    other = who("system:node:n2", auth.NODES_GROUP)
    with pytest.raises(Forbidden):
        authorizer().authorize(request(other, "update", "pods", "status", "on-n1", "default"))
