"""The RBAC authorizer: a request is allowed if a rule of a role bound to the caller allows it.

Roles and bindings are read from the API server's watch caches (always current, no store round
trip per request). The rules a user holds are worked out once per user and namespace, and each
answer they give once, and kept until one of the four RBAC caches moves to a new revision
(walking every binding and rule on every call was 8% of the API server's time under load).
Bindings apply cluster-wide (ClusterRoleBinding) or in their namespace (RoleBinding, to a Role
of that namespace or a ClusterRole). Members of system:masters may do anything. On top, the
node restriction (kube-apiserver's Node authorizer and NodeRestriction admission): a kubelet
writes only its own Node and heartbeat Lease, and only the pods bound to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cluster.api import resources, wellknown
from cluster.apiserver.auth import ADMIN_GROUP, NODE_USER_PREFIX, NODES_GROUP, Request, UserInfo
from cluster.apiserver.rbac.rules import Attributes, any_allows
from cluster.errors import Forbidden
from raykube.v1 import rbac_pb2

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
RBAC_RESOURCES = (
    resources.CLUSTERROLEBINDINGS,
    resources.ROLEBINDINGS,
    resources.CLUSTERROLES,
    resources.ROLES,
)
MAX_REMEMBERED = 4096  # (user, namespace) pairs, and answers per pair; past that a memo starts over


@dataclass
class _Grants:
    """The rules one user holds in one namespace, and the answers they gave so far. The object's
    name is part of an answer's key only if some rule lists resourceNames (else a scheduler's
    binds of 10,000 pods would be 10,000 answers to remember rather than one)."""

    rules: list[rbac_pb2.PolicyRule]
    answers: dict[tuple[str, ...], bool] = field(default_factory=dict)
    by_name: bool = field(init=False)  # some rule lists resourceNames

    def __post_init__(self) -> None:
        self.by_name = any(rule.resource_names for rule in self.rules)

    def allow(self, r: Request) -> bool:
        key = (r.verb, r.group, r.resource, r.subresource, r.name if self.by_name else "", r.path)
        answer = self.answers.get(key)
        if answer is None:
            if len(self.answers) >= MAX_REMEMBERED:
                self.answers.clear()
            attributes = Attributes(r.verb, r.group, r.resource, r.subresource, r.name, r.path)
            answer = self.answers[key] = any_allows(self.rules, attributes)
        return answer


class RbacAuthorizer:
    def __init__(self, caches: Mapping[str, Any]):
        self._caches = caches  # resource name -> WatchCache (its `objects`: key -> object)
        self._memo: dict[tuple[UserInfo, str], _Grants] = {}
        self._memo_revisions: tuple[int, ...] = ()

    def _objects(self, resource: resources.Resource[Any]) -> Iterator[Any]:
        yield from self._caches[resource.name].objects.values()

    def _cached(self, resource: resources.Resource[Any], namespace: str, name: str) -> Any:
        return self._caches[resource.name].objects.get(resource.key(namespace, name))

    def rules_for(self, user: UserInfo, namespace: str = "") -> list[rbac_pb2.PolicyRule]:
        """Every rule `user` holds cluster-wide, and in `namespace` if one is given."""
        return self._grants(user, namespace).rules

    def _grants(self, user: UserInfo, namespace: str) -> _Grants:
        caches = self._caches
        revisions = tuple(caches[resource.name].revision for resource in RBAC_RESOURCES)
        if revisions != self._memo_revisions or len(self._memo) >= MAX_REMEMBERED:
            self._memo, self._memo_revisions = {}, revisions
        grants = self._memo.get((user, namespace))
        if grants is None:
            grants = self._memo[user, namespace] = _Grants(self._collect_rules(user, namespace))
        return grants

    def _collect_rules(self, user: UserInfo, namespace: str) -> list[rbac_pb2.PolicyRule]:
        found: list[rbac_pb2.PolicyRule] = []
        for binding in self._objects(resources.CLUSTERROLEBINDINGS):
            if _binds(binding.subjects, user, ""):
                found += self.role_rules(binding.role_ref, "")
        if namespace:
            for binding in self._objects(resources.ROLEBINDINGS):
                if binding.metadata.namespace == namespace and _binds(binding.subjects, user, namespace):
                    found += self.role_rules(binding.role_ref, namespace)
        return found

    def role_rules(self, ref: rbac_pb2.RoleRef, namespace: str) -> list[rbac_pb2.PolicyRule]:
        if ref.kind == "ClusterRole":
            role = self._cached(resources.CLUSTERROLES, "", ref.name)
        else:
            role = self._cached(resources.ROLES, namespace, ref.name) if namespace else None
        return list(role.rules) if role is not None else []

    def allowed(self, request: Request) -> bool:
        user = request.user
        if ADMIN_GROUP in user.groups:
            return True
        return self._grants(user, request.namespace).allow(request) and self._node_allows(request)

    def authorize(self, request: Request) -> None:
        """Return if allowed; raise Forbidden with Kubernetes' wording otherwise."""
        if self.allowed(request):
            return
        who = f'User "{request.user.name}"'
        if not request.resource:
            raise Forbidden(f'forbidden: {who} cannot {request.verb} path "{request.path}"')
        target = f"{request.resource}/{request.subresource}" if request.subresource else request.resource
        scope = f'in the namespace "{request.namespace}"' if request.namespace else "at the cluster scope"
        subject = f'{target} "{request.name}"' if request.name else target
        where = f'in API group "{request.group}" {scope}'
        raise Forbidden(f'{subject} is forbidden: {who} cannot {request.verb} resource "{target}" {where}')

    def _node_allows(self, request: Request) -> bool:
        """A node writes only its own Node and Lease, and only the pods bound to it."""
        user = request.user
        if NODES_GROUP not in user.groups or request.verb in ("get", "list", "watch"):
            return True
        node = user.name.removeprefix(NODE_USER_PREFIX)
        if request.resource == "nodes":
            return request.name == node
        if request.resource == "leases":
            return request.namespace == wellknown.NAMESPACE_NODE_LEASE and request.name == node
        if request.resource == "pods" and request.name:
            pod = self._cached(resources.PODS, request.namespace, request.name)
            return pod is None or pod.spec.node_name == node  # a missing pod: the request gets its 404
        return True


def _binds(subjects: Any, user: UserInfo, namespace: str) -> bool:
    for subject in subjects:
        if subject.kind == "User" and subject.name == user.name:
            return True
        if subject.kind == "Group" and subject.name in user.groups:
            return True
        if subject.kind == "ServiceAccount":
            account = f"{SERVICE_ACCOUNT_PREFIX}{subject.namespace or namespace}:{subject.name}"
            if user.name == account:
                return True
    return False
