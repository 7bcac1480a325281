"""Pod objects for the kubelet's tests, built directly as protobuf messages."""

from __future__ import annotations

from raykube.v1 import meta_pb2, pod_pb2


def container(name: str = "c", image: str = "busybox:1.36", **fields: object) -> pod_pb2.Container:
    fields.setdefault("image_pull_policy", "IfNotPresent")
    return pod_pb2.Container(name=name, image=image, **fields)  # type: ignore[arg-type]


def make_pod(
    name: str = "web",
    *,
    uid: str = "uid-web",
    containers: list[pod_pb2.Container] | None = None,
    restart_policy: str = "Always",
    node: str = "node-a",
    grace: int | None = None,
    namespace: str = "default",
) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(
        api_version="v1",
        kind="Pod",
        metadata=meta_pb2.ObjectMeta(name=name, namespace=namespace, uid=uid, resource_version="5"),
        spec=pod_pb2.PodSpec(
            containers=containers if containers is not None else [container()],
            restart_policy=restart_policy,
            node_name=node,
        ),
    )
    if grace is not None:
        pod.spec.termination_grace_period_seconds = grace
    return pod


def terminating(pod: pod_pb2.Pod, grace: int, at: int = 1_000_000) -> pod_pb2.Pod:
    """A copy of `pod` as the API server marks it on a graceful delete."""
    marked = pod_pb2.Pod()
    marked.CopyFrom(pod)
    marked.metadata.deletion_timestamp.FromSeconds(at + grace)
    marked.metadata.deletion_grace_period_seconds = grace
    return marked
