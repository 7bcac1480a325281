"""ImageLocality: prefer nodes that already hold the pod's container images (no pull to wait for).

A node's raw score is the sum, over the pod's containers, of the size of each image it holds,
scaled by the share of nodes holding that image (kube-scheduler's spread factor: an image every
node has gives no reason to pick one of them). The sum is clamped to 23 MB .. 1,000 MB per
container and mapped linearly onto 0..100. Node images come from the kubelet's node status.
Skipped for a pod none of whose images any node reports (hollow nodes report none).
"""

from __future__ import annotations

from collections.abc import Sequence

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    CycleState,
    Handle,
    NodeInfo,
    PodInfo,
    StateKey,
    Status,
)
from cluster.scheduler.framework.node_info import normalized_image

NAME = "ImageLocality"
MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB
_SPREAD = StateKey[tuple[list[tuple[str, float]], int]](f"{NAME}/preScore")  # (image, share), containers


class ImageLocality:
    name = NAME

    def __init__(self, handle: Handle):
        self._handle = handle

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: Sequence[NodeInfo]) -> Status:
        total = len(self._handle.nodes())
        images = [normalized_image(c.image) for c in pod.pod.spec.containers]
        spread = [(image, self._handle.nodes_with_image(image) / total) for image in images if total]
        if not any(share for _, share in spread):
            return SKIP
        state.write(_SPREAD, (spread, len(images)))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        spread, containers = state.read(_SPREAD)
        held = node.images
        total = sum(int(held[image] * share) for image, share in spread if image in held)
        highest = MAX_CONTAINER_THRESHOLD * containers
        clamped = min(max(total, MIN_THRESHOLD), highest)
        return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (highest - MIN_THRESHOLD)
