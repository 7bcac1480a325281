"""The three patch formats, on Kubernetes' own examples (kubectl's apply and patch requests)."""

from __future__ import annotations

import pytest

from cluster.api.patch import json_patch, merge_patch, strategic_merge_patch
from cluster.errors import BadRequest
from raykube.v1 import apps_pb2, pod_pb2

POD = {
    "metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a"]},
    "spec": {"containers": [
        {"name": "main", "image": "busybox:1.35", "ports": [{"containerPort": 80}],
         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
        {"name": "side", "image": "busybox:1.35"},
    ], "tolerations": [{"key": "x", "operator": "Exists"}]},
}  # fmt: skip


def smp(patch: dict) -> dict:
    return strategic_merge_patch(POD, patch, pod_pb2.Pod.DESCRIPTOR)


def test_containers_merge_by_name_and_follow_set_element_order() -> None:
    # kubectl apply's patch when one container changes and one is added (KUBECTL.md)
    patched = smp({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "main"}, {"name": "new"}],
                            "containers": [{"name": "main", "image": "busybox:1.36", "ports": None,
                                            "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]},
                                           {"name": "new", "image": "busybox:latest"}]}})  # fmt: skip
    containers = patched["spec"]["containers"]
    assert [c["name"] for c in containers] == ["side", "main", "new"]
    main = containers[1]
    assert main["image"] == "busybox:1.36" and "ports" not in main
    assert main["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "3"},
        {"name": "C", "value": "4"},
    ]
    assert POD["spec"]["containers"][0]["image"] == "busybox:1.35"  # the original is untouched


def test_directives_delete_replace_retain_and_primitive_sets() -> None:
    assert [c["name"] for c in smp({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}})["spec"][
        "containers"]] == ["main"]  # fmt: skip
    replaced = smp({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "x"}]}})
    assert replaced["spec"]["containers"] == [{"name": "only", "image": "x"}]
    assert smp({"metadata": {"labels": {"$patch": "replace", "tier": "db"}}})["metadata"]["labels"] == {
        "tier": "db"
    }
    assert "labels" not in smp({"metadata": {"labels": {"$patch": "delete"}}})["metadata"]
    assert smp({"metadata": {"finalizers": ["b", "a"]}})["metadata"]["finalizers"] == ["a", "b"]  # a set
    assert smp({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})["metadata"]["finalizers"] == []
    # tolerations have no merge key in Kubernetes: the list is replaced
    assert smp({"spec": {"tolerations": [{"key": "y"}]}})["spec"]["tolerations"] == [{"key": "y"}]
    assert smp({"metadata": {"$retainKeys": ["name"], "name": "web"}})["metadata"] == {"name": "web"}


def test_status_conditions_merge_by_type() -> None:
    deployment = {"status": {"conditions": [{"type": "Available", "status": "False"},
                                            {"type": "Progressing", "status": "True"}]}}  # fmt: skip
    patched = strategic_merge_patch(
        deployment, {"status": {"conditions": [{"type": "Available", "status": "True"}]}},
        apps_pb2.Deployment.DESCRIPTOR,
    )  # fmt: skip
    assert patched["status"]["conditions"] == [{"type": "Available", "status": "True"},
                                               {"type": "Progressing", "status": "True"}]  # fmt: skip


def test_bad_strategic_patches_are_bad_requests() -> None:
    with pytest.raises(BadRequest, match="every item of this list must be an object with 'name'"):
        smp({"spec": {"containers": [{"image": "x"}]}})
    with pytest.raises(BadRequest, match='unknown \\$patch directive "explode"'):
        smp({"metadata": {"$patch": "explode"}})
    with pytest.raises(BadRequest, match="must be a JSON object"):
        strategic_merge_patch(POD, [1], pod_pb2.Pod.DESCRIPTOR)


def test_merge_patch_replaces_lists_and_null_deletes() -> None:
    patched = merge_patch(POD, {"metadata": {"labels": {"app": None, "tier": "db"}},
                                "spec": {"containers": [{"name": "x"}]}})  # fmt: skip
    assert patched["metadata"]["labels"] == {"tier": "db"}
    assert patched["spec"]["containers"] == [{"name": "x"}]
    assert merge_patch({"a": 1}, "scalar") == "scalar"


def test_json_patch_operations_and_failures() -> None:
    patched = json_patch(POD, [{"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:1.36"},
                               {"op": "add", "path": "/metadata/labels/tier", "value": "db"},
                               {"op": "remove", "path": "/spec/containers/1"}])  # fmt: skip
    assert [c["image"] for c in patched["spec"]["containers"]] == ["busybox:1.36"]
    assert patched["metadata"]["labels"] == {"app": "web", "tier": "db"}
    with pytest.raises(BadRequest, match="could not be applied"):
        json_patch(POD, [{"op": "test", "path": "/metadata/name", "value": "other"}])
    with pytest.raises(BadRequest, match="could not be applied"):
        json_patch(POD, [{"op": "remove", "path": "/spec/nothing"}])
    with pytest.raises(BadRequest, match="list of operations"):
        json_patch(POD, {"op": "remove"})
