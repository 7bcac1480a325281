"""Admission: what the API server adds to a pod on create, as kube-apiserver's admission plugins do.

DefaultTolerationSeconds: a pod that does not say how long it tolerates its node being not-ready
or unreachable gets a NoExecute toleration for each, for DEFAULT_TOLERATION_SECONDS. The node
lifecycle controller evicts it that long after the node was tainted, so its controller replaces
it elsewhere. Kubernetes' default is 300 s; raykube's, for a lab cluster, is 20 s (with the
node monitor's 20 s grace period, a dead host's pods are replaced within about a minute).
"""

from __future__ import annotations

from cluster.api import wellknown
from raykube.v1 import pod_pb2

DEFAULT_TOLERATION_SECONDS = 20


def default_toleration_seconds(pod: pod_pb2.Pod, seconds: int = DEFAULT_TOLERATION_SECONDS) -> None:
    for key in (wellknown.TAINT_NODE_NOT_READY, wellknown.TAINT_NODE_UNREACHABLE):
        if not any(_tolerates_no_execute(t, key) for t in pod.spec.tolerations):
            pod.spec.tolerations.add(
                key=key, operator="Exists", effect="NoExecute", toleration_seconds=seconds
            )


def _tolerates_no_execute(toleration: pod_pb2.Toleration, key: str) -> bool:
    """Whether a toleration already covers NoExecute taints with `key` (the plugin's own test)."""
    return toleration.key in ("", key) and toleration.effect in ("", "NoExecute")
