"""What RBAC objects and ServiceAccounts must look like (kube-apiserver's rbac validation), with
field paths. Role names may contain colons ("system:node"): they are URL path segments."""

from __future__ import annotations

from typing import Any

from cluster.api import names
from cluster.apiserver.validation import object_meta
from cluster.errors import FieldError, forbidden, invalid, not_supported, required
from raykube.v1 import rbac_pb2, serviceaccount_pb2

RBAC = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("User", "Group", "ServiceAccount")


def _rules(rules: Any, *, namespaced: bool) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, rule in enumerate(rules):
        path = f"rules[{i}]"
        if not rule.verbs:
            errors.append(required(f"{path}.verbs"))
        if rule.non_resource_urls:
            urls = list(rule.non_resource_urls)
            if namespaced:
                errors.append(
                    invalid(
                        f"{path}.nonResourceURLs", urls, "namespaced rules cannot apply to non-resource URLs"
                    )
                )
            if rule.api_groups or rule.resources:
                both = "rules cannot apply to both regular resources and non-resource URLs"
                errors.append(invalid(f"{path}.nonResourceURLs", urls, both))
            continue
        if not rule.api_groups:
            errors.append(required(f"{path}.apiGroups"))
        if not rule.resources:
            errors.append(required(f"{path}.resources"))
    return errors


def role(obj: rbac_pb2.Role) -> list[FieldError]:
    return object_meta(obj.metadata, namespaced=True, name_rule=names.path_segment) + _rules(
        obj.rules, namespaced=True
    )


def cluster_role(obj: rbac_pb2.ClusterRole) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=False, name_rule=names.path_segment)
    return errors + _rules(obj.rules, namespaced=False)


def _binding(obj: Any, *, namespaced: bool) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=namespaced, name_rule=names.path_segment)
    ref = obj.role_ref
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.api_group != RBAC:
        errors.append(not_supported("roleRef.apiGroup", ref.api_group, [RBAC]))
    if ref.kind not in kinds:
        errors.append(not_supported("roleRef.kind", ref.kind, kinds))
    if not ref.name:
        errors.append(required("roleRef.name"))
    else:
        errors += [invalid("roleRef.name", ref.name, p) for p in names.path_segment(ref.name)]
    for i, subject in enumerate(obj.subjects):
        path = f"subjects[{i}]"
        if subject.kind not in SUBJECT_KINDS:
            errors.append(not_supported(f"{path}.kind", subject.kind, SUBJECT_KINDS))
        if not subject.name:
            errors.append(required(f"{path}.name"))
        if subject.kind == "ServiceAccount":
            if subject.api_group:
                errors.append(not_supported(f"{path}.apiGroup", subject.api_group, [""]))
            if not namespaced and not subject.namespace:
                errors.append(required(f"{path}.namespace"))
        elif subject.kind in ("User", "Group") and subject.api_group != RBAC:
            errors.append(not_supported(f"{path}.apiGroup", subject.api_group, [RBAC]))
    return errors


def role_binding(obj: rbac_pb2.RoleBinding) -> list[FieldError]:
    return _binding(obj, namespaced=True)


def cluster_role_binding(obj: rbac_pb2.ClusterRoleBinding) -> list[FieldError]:
    return _binding(obj, namespaced=False)


def binding_update(new: Any, old: Any) -> list[FieldError]:
    errors = _binding(new, namespaced=bool(new.metadata.namespace))
    if new.role_ref != old.role_ref:
        errors.append(forbidden("roleRef", "cannot change roleRef"))
    return errors


def service_account(obj: serviceaccount_pb2.ServiceAccount) -> list[FieldError]:
    return object_meta(obj.metadata, namespaced=True)
