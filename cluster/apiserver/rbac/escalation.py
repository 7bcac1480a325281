"""Escalation prevention (kube-apiserver's RBAC storage rules): nobody grants what they do not hold.

Writing a Role or ClusterRole needs every permission it grants (in the Role's namespace, or
cluster-wide), unless the writer may `escalate` it; writing a binding needs every permission of
the role it binds, unless the writer may `bind` that role. system:masters may do anything.
"""

from __future__ import annotations

from typing import Any

from cluster.api import resources
from cluster.apiserver.auth import ADMIN_GROUP, Request, UserInfo
from cluster.apiserver.rbac.authorizer import RbacAuthorizer
from cluster.apiserver.rbac.rules import Attributes, uncovered
from cluster.errors import Forbidden

ROLE_KINDS = {resources.ROLES.name: resources.ROLES, resources.CLUSTERROLES.name: resources.CLUSTERROLES}
BINDING_KINDS = (resources.ROLEBINDINGS.name, resources.CLUSTERROLEBINDINGS.name)


def check(authorizer: RbacAuthorizer, user: UserInfo, obj: Any) -> None:
    """Forbidden if writing `obj` (only RBAC kinds are checked) would grant more than `user` holds."""
    resource = resources.of(obj)
    if ADMIN_GROUP in user.groups or (resource.name not in ROLE_KINDS and resource.name not in BINDING_KINDS):
        return
    namespace, name = obj.metadata.namespace, obj.metadata.name
    if resource.name in ROLE_KINDS:
        if _may(authorizer, user, "escalate", resource, namespace, name):
            return
        wanted, what = list(obj.rules), "grant"
    else:
        ref = obj.role_ref
        role = ROLE_KINDS["clusterroles" if ref.kind == "ClusterRole" else "roles"]
        if _may(authorizer, user, "bind", role, namespace if ref.kind == "Role" else "", ref.name):
            return
        wanted, what = authorizer.role_rules(ref, namespace), "bind"
    missing = uncovered(authorizer.rules_for(user, namespace), wanted)
    if missing:
        listed = "; ".join(_describe(a) for a in missing[:10]) + (" ..." if len(missing) > 10 else "")
        groups = ",".join(sorted(user.groups))
        raise Forbidden(
            f'{resource.name}.{resource.group} "{name}" is forbidden: user "{user.name}" (groups=[{groups}]) '
            f"is attempting to {what} RBAC permissions not currently held: {listed}"
        )


def _may(
    authorizer: RbacAuthorizer, user: UserInfo, verb: str, resource: Any, namespace: str, name: str
) -> bool:
    return authorizer.allowed(Request(user, verb, resource.name, "", namespace, name, resource.group))


def _describe(atom: Attributes) -> str:
    if not atom.resource:
        return f"{{URLs:[{atom.path}], Verbs:[{atom.verb}]}}"
    resource = f"{atom.resource}/{atom.subresource}" if atom.subresource else atom.resource
    names = f", ResourceNames:[{atom.name}]" if atom.name else ""
    return f'{{APIGroups:["{atom.group}"], Resources:["{resource}"]{names}, Verbs:["{atom.verb}"]}}'
