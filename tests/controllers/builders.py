"""Objects for controller tests, built from manifests so they look as the API server stores them."""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import manifest
from cluster.apiserver import defaults
from raykube.v1 import apps_pb2, pod_pb2

TEMPLATE = """\
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: 'busybox:1.35', command: [sleep, '3600']}]}
"""


def deployment(replicas: int = 3, name: str = "web", extra: str = "") -> apps_pb2.Deployment:
    [obj] = manifest.load(f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: default}}\n"
                          f"spec:\n  replicas: {replicas}\n{extra}{TEMPLATE}")  # fmt: skip
    assert isinstance(obj, apps_pb2.Deployment)
    defaults.default_deployment(obj)
    obj.metadata.uid, obj.metadata.generation = f"uid-{name}", 1
    return obj


def replica_set(replicas: int = 3, name: str = "web", min_ready: int = 0) -> apps_pb2.ReplicaSet:
    [obj] = manifest.load(f"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: {name}, namespace: default}}\n"
                          f"spec:\n  replicas: {replicas}\n  minReadySeconds: {min_ready}\n{TEMPLATE}")  # fmt: skip
    assert isinstance(obj, apps_pb2.ReplicaSet)
    defaults.default_replica_set(obj)
    obj.metadata.uid, obj.metadata.generation = f"uid-{name}", 1
    return obj


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready_since: int | None = 100,
        created: int = 50, restarts: int = 0) -> pod_pb2.Pod:  # fmt: skip
    obj = pod_pb2.Pod()
    obj.metadata.name, obj.metadata.namespace = name, "default"
    obj.metadata.labels["app"] = "web"
    obj.metadata.creation_timestamp.CopyFrom(Timestamp(seconds=created))
    obj.spec.node_name = node
    obj.status.phase = phase
    if ready_since is not None:
        obj.status.conditions.add(
            type="Ready", status="True", last_transition_time=Timestamp(seconds=ready_since)
        )
    if restarts:
        obj.status.container_statuses.add(name="c", restart_count=restarts)
    return obj
