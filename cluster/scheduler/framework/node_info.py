"""NodeInfo: one node as the plugins see it: the node, its pods, and running totals.

Totals (requested cpu/memory, their non-zero variants for scoring, the pod count, the host ports
in use) are kept up to date as pods are added and removed, so a filter is a few integer
comparisons rather than a walk over the node's pods. Allocatable, labels and taints are parsed
once per node update. Pods with (anti-)affinity terms are indexed separately, so inter-pod
affinity walks only those.

Only the scheduler cache mutates NodeInfos, on the event loop, between decisions; plugins read.
`node` is None while the cache knows pods on a node it has no Node object for (yet, or any more).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping

from cluster.api import quantity
from cluster.scheduler.framework.pod_info import PodInfo
from raykube.v1 import node_pb2

log = logging.getLogger(__name__)

HARD_TAINT_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def normalized_image(image: str) -> str:
    """An image reference as a runtime names it: a tag (":latest" if none) and a registry
    ("docker.io", "library/" for a single-component name), so "busybox" and the node's
    "docker.io/library/busybox:latest" are the same image."""
    if "@" not in image and ":" not in image.rsplit("/", 1)[-1]:
        image += ":latest"
    first, slash, _ = image.partition("/")
    if not slash:
        return f"docker.io/library/{image}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{image}"
    return image


class NodeInfo:
    __slots__ = (
        "allocatable_memory",
        "allocatable_milli_cpu",
        "allocatable_pods",
        "images",
        "labels",
        "name",
        "node",
        "non_zero_memory",
        "non_zero_milli_cpu",
        "pods",
        "pods_with_affinity",
        "pods_with_required_anti_affinity",
        "prefer_no_schedule_taints",
        "requested_memory",
        "requested_milli_cpu",
        "taint_key",
        "taints",
        "unschedulable",
        "used_ports",
    )

    def __init__(self, name: str, node: node_pb2.Node | None = None):
        self.name = name
        self.node: node_pb2.Node | None = None
        self.labels: dict[str, str] = {}
        self.allocatable_milli_cpu = self.allocatable_memory = self.allocatable_pods = 0
        self.taints: tuple[node_pb2.Taint, ...] = ()  # NoSchedule and NoExecute
        # The hard taints and cordon as a hashable value: nodes equal in it tolerate the same pods
        self.taint_key: tuple[bool, tuple[tuple[str, str, str], ...]] = (False, ())
        self.prefer_no_schedule_taints: tuple[node_pb2.Taint, ...] = ()
        self.unschedulable = False
        self.images: dict[str, int] = {}  # normalized image name -> size in bytes
        self.pods: dict[str, PodInfo] = {}
        self.pods_with_affinity: dict[str, PodInfo] = {}
        self.pods_with_required_anti_affinity: dict[str, PodInfo] = {}
        self.used_ports: Counter[tuple[str, int]] = Counter()  # (protocol, hostPort) -> pods using it
        self.requested_milli_cpu = self.requested_memory = 0
        self.non_zero_milli_cpu = self.non_zero_memory = 0
        if node is not None:
            self.set_node(node)

    def set_node(self, node: node_pb2.Node) -> None:
        self.node = node
        self.labels = dict(node.metadata.labels)
        allocatable = node.status.allocatable
        self.allocatable_milli_cpu = self._quantity(allocatable, "cpu", quantity.milli_value)
        self.allocatable_memory = self._quantity(allocatable, "memory", quantity.value)
        self.allocatable_pods = self._quantity(allocatable, "pods", quantity.value)
        self.taints = tuple(t for t in node.spec.taints if t.effect in HARD_TAINT_EFFECTS)
        self.prefer_no_schedule_taints = tuple(t for t in node.spec.taints if t.effect == "PreferNoSchedule")
        self.unschedulable = node.spec.unschedulable
        self.taint_key = (self.unschedulable, tuple((t.key, t.value, t.effect) for t in self.taints))
        self.images = {
            normalized_image(name): image.size_bytes for image in node.status.images for name in image.names
        }

    def _quantity(self, allocatable: Mapping[str, str], name: str, parse: Callable[[str], int]) -> int:
        text = allocatable.get(name)
        if text is None:
            return 0
        try:
            return parse(text)
        except quantity.QuantityError:
            log.warning("node %s: allocatable %s %r is not a quantity; counting 0", self.name, name, text)
            return 0

    def add_pod(self, pod: PodInfo) -> None:
        self.pods[pod.key] = pod
        self._count(pod, 1)
        if pod.has_affinity:
            self.pods_with_affinity[pod.key] = pod
        if pod.required_anti_affinity:
            self.pods_with_required_anti_affinity[pod.key] = pod

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._count(pod, -1)
            self.pods_with_affinity.pop(key, None)
            self.pods_with_required_anti_affinity.pop(key, None)
        return pod

    def _count(self, pod: PodInfo, sign: int) -> None:
        self.requested_milli_cpu += sign * pod.milli_cpu
        self.requested_memory += sign * pod.memory
        self.non_zero_milli_cpu += sign * pod.non_zero_milli_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        for port in pod.host_ports:
            self.used_ports[port] += sign
            if not self.used_ports[port]:
                del self.used_ports[port]

    def clone(self) -> NodeInfo:
        """A copy with its own pod set: to try in thought what removing pods would change.

        Field by field: preemption and nominated pods clone a node per node they look at, and
        reading the Node object again (quantities, labels, taints, images) cost more than the
        rest of their work. What the copy shares is never changed in place (set_node rebinds)."""
        copy = NodeInfo.__new__(NodeInfo)
        for field in NodeInfo.__slots__:
            setattr(copy, field, getattr(self, field))
        copy.pods = dict(self.pods)
        copy.pods_with_affinity = dict(self.pods_with_affinity)
        copy.pods_with_required_anti_affinity = dict(self.pods_with_required_anti_affinity)
        copy.used_ports = Counter(self.used_ports)
        return copy

    def __repr__(self) -> str:
        return (
            f"NodeInfo({self.name}, pods={len(self.pods)}, "
            f"cpu={self.requested_milli_cpu}m/{self.allocatable_milli_cpu}m, "
            f"memory={self.requested_memory}/{self.allocatable_memory})"
        )
