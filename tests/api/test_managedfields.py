"""Server-side apply's field ownership, on the pure functions: which fields a configuration sets,
FieldsV1 both ways, conflicts, forcing, and removal of what a manager stopped applying."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from cluster.api import managedfields as mf
from cluster.api.managedfields import APPLY, UPDATE, ApplyConflict, Ownership
from raykube.v1 import apps_pb2

DEPLOYMENT = apps_pb2.Deployment.DESCRIPTOR


def config(replicas: int | None = 2, image: str = "busybox:1.35", sidecar: bool = False,
           labels: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    containers = [{"name": "main", "image": image, "command": ["sleep", "1d"]}]
    if sidecar:
        containers.append({"name": "sidecar", "image": "busybox:1.35"})
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}},
                                         "spec": {"containers": containers}}}  # fmt: skip
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": labels or {"app": "web"}}, "spec": spec}  # fmt: skip


def apply(live: dict[str, Any], cfg: dict[str, Any], owners: list[Ownership], manager: str,
          force: bool = False) -> tuple[dict[str, Any], list[Ownership]]:  # fmt: skip
    return mf.apply(live, cfg, owners, manager, force=force, descriptor=DEPLOYMENT, api_version="apps/v1")


def test_the_fields_a_configuration_sets_in_fieldsv1() -> None:
    fields = mf.fields_of(config(), DEPLOYMENT)
    tree = mf.to_fields_v1(fields)
    assert tree == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {"f:matchLabels": {"f:app": {}}},
            "f:template": {
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:containers": {'k:{"name":"main"}': {
                    ".": {}, "f:name": {}, "f:image": {}, "f:command": {}}}},
            },
        },
    }  # fmt: skip
    assert mf.from_fields_v1(json.loads(json.dumps(tree))) == fields


def test_a_first_apply_owns_what_it_set_and_a_second_manager_conflicts_on_changed_values() -> None:
    created, owners = apply({}, config(), [], "alice")
    assert created["spec"]["replicas"] == 2 and [o.manager for o in owners] == ["alice"]
    same, shared = apply(created, config(), owners, "bob")  # same values: no conflict, shared
    assert same == created and {o.manager for o in shared} == {"alice", "bob"}
    with pytest.raises(ApplyConflict) as refused:
        apply(created, config(replicas=5, image="busybox:1.36"), owners, "bob")
    assert refused.value.http_code == 409
    assert refused.value.message.startswith("Apply failed with 2 conflicts: ")
    assert {c.field for c in refused.value.causes} == {
        ".spec.replicas", '.spec.template.spec.containers[name="main"].image'}  # fmt: skip
    forced, owners = apply(created, config(replicas=5, image="busybox:1.36"), owners, "bob", force=True)
    assert forced["spec"]["replicas"] == 5
    alice = next(o for o in owners if o.manager == "alice")
    assert ("f:spec", "f:replicas") not in alice.fields  # taken by force
    assert ("f:spec", "f:selector", "f:matchLabels", "f:app") in alice.fields  # the rest stays hers


def test_what_a_manager_stops_applying_is_removed_unless_someone_else_owns_it() -> None:
    live, owners = apply({}, config(sidecar=True, labels={"app": "web", "tier": "front"}), [], "alice")
    pruned, owners = apply(live, config(), owners, "alice")
    assert [c["name"] for c in pruned["spec"]["template"]["spec"]["containers"]] == ["main"]
    assert pruned["metadata"]["labels"] == {"app": "web"}
    live, owners = apply({}, config(labels={"app": "web", "tier": "front"}), [], "alice")
    live, owners = apply(live, config(labels={"app": "web", "tier": "front"}), owners, "bob")
    kept, _ = apply(live, config(), owners, "alice")
    assert kept["metadata"]["labels"] == {"app": "web", "tier": "front"}  # bob still applies it


def test_an_update_takes_the_fields_it_changed_and_a_later_apply_conflicts_with_it() -> None:
    live, owners = apply({}, config(), [], "kubectl")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    owners = mf.record_update(live, scaled, owners, "kubectl-scale", DEPLOYMENT)
    assert Ownership("kubectl-scale", UPDATE, frozenset({("f:spec", "f:replicas")})) in owners
    assert ("f:spec", "f:replicas") not in next(o for o in owners if o.operation == APPLY).fields
    with pytest.raises(ApplyConflict, match=r'conflict with "kubectl-scale" using apps/v1: \.spec\.replicas'):
        apply(scaled, config(replicas=3), owners, "kubectl")
    unchanged, _ = apply(scaled, config(replicas=None), owners, "kubectl")  # leaving replicas to the scaler
    assert unchanged["spec"]["replicas"] == 7
