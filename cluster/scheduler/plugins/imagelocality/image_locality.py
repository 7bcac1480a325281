"""ImageLocality: prefer nodes that already hold the pod's container images (no pull to wait for).

A node's raw score is the sum, over the pod's containers, of the size of each image it holds,
scaled by the share of nodes holding that image (kube-scheduler's spread factor: an image every
node has gives no reason to pick one of them). The sum is clamped to 23 MB .. 1,000 MB per
container and mapped linearly onto 0..100. Node images come from the kubelet's node status.
Skipped for a pod none of whose images any node reports (hollow nodes report none). Scored for
all nodes at once: a node that reports no image at all (the table's `holds_images` column) scores
0 without a look at its NodeInfo, so a cluster of a thousand hollow nodes and one real node holding
the image costs one lookup per pod, not a thousand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cluster.scheduler.framework import (
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    Column,
    CycleState,
    Handle,
    NodeInfo,
    NodeTable,
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

    def score_vector(self, state: CycleState, pod: PodInfo, nodes: NodeTable) -> Column:
        spread, containers = state.read(_SPREAD)
        totals = np.zeros(len(nodes), dtype=np.int64)
        for row in np.flatnonzero(nodes.holds_images).tolist():
            totals[row] = _held(nodes[row], spread)
        highest = MAX_CONTAINER_THRESHOLD * containers
        clamped = np.clip(totals, MIN_THRESHOLD, highest)
        return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (highest - MIN_THRESHOLD)


def _held(node: NodeInfo, spread: list[tuple[str, float]]) -> int:
    """The spread-scaled bytes of the pod's images that `node` holds."""
    held = node.images
    return sum(int(held[image] * share) for image, share in spread if image in held)
