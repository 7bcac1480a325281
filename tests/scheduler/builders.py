"""Terse builders for the Pods, Nodes and NodeInfos the scheduler tests need."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from cluster.api import codec
from cluster.scheduler.framework import NodeInfo, PodInfo
from raykube.v1 import node_pb2, pod_pb2

_uids = itertools.count(1)


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    labels: Mapping[str, str] | None = None,
    taints: Iterable[tuple[str, str, str]] = (),
    unschedulable: bool = False,
) -> node_pb2.Node:
    """A node; taints as (key, value, effect)."""
    obj = node_pb2.Node(api_version="v1", kind="Node")
    obj.metadata.name = name
    obj.metadata.uid = f"node-{name}"
    obj.metadata.resource_version = "1"
    obj.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    obj.status.allocatable.update({"cpu": cpu, "memory": memory, "pods": pods})
    obj.spec.taints.extend(node_pb2.Taint(key=k, value=v, effect=e) for k, v, e in taints)
    obj.spec.unschedulable = unschedulable
    return obj


def pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, Any]] = (),
    affinity: Mapping[str, Any] | None = None,
    node_name: str = "",
    containers: int = 1,
) -> pod_pb2.Pod:
    """A pod whose containers each request `cpu`/`memory`; affinity and tolerations in manifest form."""
    obj = pod_pb2.Pod(api_version="v1", kind="Pod")
    obj.metadata.name = name
    obj.metadata.namespace = namespace
    obj.metadata.uid = f"uid-{next(_uids)}"
    obj.metadata.resource_version = "1"
    obj.metadata.labels.update(labels or {})
    obj.spec.scheduler_name = "default-scheduler"
    obj.spec.node_name = node_name
    obj.spec.node_selector.update(node_selector or {})
    obj.spec.tolerations.extend(codec.decode(dict(t), pod_pb2.Toleration) for t in tolerations)
    if affinity is not None:
        obj.spec.affinity.CopyFrom(codec.decode(dict(affinity), pod_pb2.Affinity))
    for i in range(containers):
        container = obj.spec.containers.add(name=f"c{i}", image="busybox")
        if cpu is not None:
            container.resources.requests["cpu"] = cpu
        if memory is not None:
            container.resources.requests["memory"] = memory
    return obj


def node_info(obj: node_pb2.Node, *pods: pod_pb2.Pod) -> NodeInfo:
    info = NodeInfo(obj.metadata.name, obj)
    for p in pods:
        info.add_pod(PodInfo(p))
    return info


def term(topology_key: str, **match_labels: str) -> dict[str, Any]:
    """A pod affinity term in manifest form selecting pods with `match_labels`."""
    return {"labelSelector": {"matchLabels": match_labels}, "topologyKey": topology_key}
