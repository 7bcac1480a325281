"""The roles and bindings every cluster starts with (kube-apiserver's bootstrap policy), created
by the API server when missing; later edits are kept.

cluster-admin (everything), admin/edit/view (the user-facing roles, for the kinds raykube serves),
system:discovery and system:basic-user (every authenticated user may discover the API and ask
about itself), and the components' own roles: the scheduler, the controller manager, nodes (the
group system:nodes) and the proxy.
"""

from __future__ import annotations

from raykube.v1 import rbac_pb2

RBAC = "rbac.authorization.k8s.io"
MASTERS, AUTHENTICATED, NODES = "system:masters", "system:authenticated", "system:nodes"
READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete", "deletecollection"]
BOOTSTRAP_LABEL = {"kubernetes.io/bootstrapping": "rbac-defaults"}
DISCOVERY_PATHS = ["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/",
                   "/healthz", "/livez", "/readyz"]  # fmt: skip


def rule(verbs: list[str], groups: list[str] | None = None, resources: list[str] | None = None, *,
         urls: list[str] | None = None) -> rbac_pb2.PolicyRule:  # fmt: skip
    return rbac_pb2.PolicyRule(verbs=verbs, api_groups=groups or [], resources=resources or [],
                               non_resource_urls=urls or [])  # fmt: skip


_VIEW = [
    rule(READ, [""], ["pods", "pods/log", "pods/status", "services", "services/status", "endpoints",
                      "serviceaccounts", "events", "namespaces", "namespaces/status"]),
    rule(READ, ["apps"], ["deployments", "deployments/scale", "deployments/status", "replicasets",
                          "replicasets/scale", "replicasets/status"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
]  # fmt: skip
_EDIT = [
    *_VIEW,
    rule(WRITE, [""], ["pods", "services", "endpoints", "serviceaccounts"]),
    rule(WRITE, ["apps"], ["deployments", "deployments/scale", "replicasets", "replicasets/scale"]),
    rule(WRITE, ["discovery.k8s.io"], ["endpointslices"]),
]
_ADMIN = [*_EDIT, rule(READ + WRITE, [RBAC], ["roles", "rolebindings"])]
_EVENTS = rule(["create", "update", "patch"], [""], ["events"])
_LEASES = rule([*READ, "create", "update", "patch"], ["coordination.k8s.io"], ["leases"])

ROLES: dict[str, list[rbac_pb2.PolicyRule]] = {
    "cluster-admin": [rule(["*"], ["*"], ["*"]), rule(["*"], urls=["*"])],
    "admin": _ADMIN,
    "edit": _EDIT,
    "view": _VIEW,
    "system:discovery": [rule(["get"], urls=DISCOVERY_PATHS)],
    "system:basic-user": [
        rule(["create"], ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
        rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
    ],
    "system:kube-scheduler": [
        rule(READ, [""], ["pods", "nodes", "namespaces", "services"]),
        rule(["create"], [""], ["pods/binding"]),
        rule(["update", "patch"], [""], ["pods/status"]),
        rule(["delete"], [""], ["pods"]),  # preemption's victims
        _LEASES, _EVENTS,
    ],
    "system:kube-controller-manager": [rule(READ, ["*"], ["*"]), rule(WRITE, ["*"], ["*"]),
                                       rule(["update", "patch"], ["*"], ["*/status"])],
    "system:node": [
        rule(READ, [""], ["pods", "nodes", "namespaces", "services"]),
        rule(["create", "update", "patch"], [""], ["nodes", "nodes/status"]),
        rule(["update", "patch"], [""], ["pods/status"]),
        rule(["delete"], [""], ["pods"]),
        rule(["create"], [""], ["serviceaccounts/token"]),
        _LEASES, _EVENTS,
    ],
    "system:node-proxier": [rule(READ, [""], ["services", "endpoints", "nodes"]),
                            rule(READ, ["discovery.k8s.io"], ["endpointslices"]), _EVENTS],
}  # fmt: skip

# ClusterRoleBinding name (= the role's) -> (subject kind, subject name)
BINDINGS: dict[str, tuple[str, str]] = {
    "cluster-admin": ("Group", MASTERS),
    "system:discovery": ("Group", AUTHENTICATED),
    "system:basic-user": ("Group", AUTHENTICATED),
    "system:kube-scheduler": ("User", "system:kube-scheduler"),
    "system:kube-controller-manager": ("User", "system:kube-controller-manager"),
    "system:node": ("Group", NODES),
    "system:node-proxier": ("User", "system:kube-proxy"),
}


def cluster_roles() -> list[rbac_pb2.ClusterRole]:
    made = []
    for name, rules in ROLES.items():
        role = rbac_pb2.ClusterRole(api_version=f"{RBAC}/v1", kind="ClusterRole", rules=rules)
        role.metadata.name = name
        role.metadata.labels.update(BOOTSTRAP_LABEL)
        made.append(role)
    return made


def cluster_role_bindings() -> list[rbac_pb2.ClusterRoleBinding]:
    made = []
    for name, (kind, subject) in BINDINGS.items():
        binding = rbac_pb2.ClusterRoleBinding(api_version=f"{RBAC}/v1", kind="ClusterRoleBinding")
        binding.metadata.name = name
        binding.metadata.labels.update(BOOTSTRAP_LABEL)
        binding.subjects.add(kind=kind, api_group=RBAC, name=subject)
        binding.role_ref.api_group, binding.role_ref.kind, binding.role_ref.name = RBAC, "ClusterRole", name
        made.append(binding)
    return made
