"""The scheduler's picture of the cluster: NodeInfos with the pods on them, including its own
decisions that the API has not confirmed yet.

Fed by the informers (nodes; pods that have a nodeName) and by the scheduler itself:
  assume(pod, node)   right after a decision, before binding, so the next decision already sees
                      the pod's requests on that node (binding is asynchronous);
  forget(key)         when binding failed: the pod is taken off the node again;
  set_pod(pod)        the informer shows the pod bound: an assumed pod is thereby confirmed
                      (moved, if it was bound elsewhere), any other pod is added or updated;
  remove_pod(key)     the pod is gone (or finished): its requests are freed.
Pods are keyed by uid. A pod is in at most one NodeInfo. Nodes that disappear while pods still
point at them keep a NodeInfo without a node (not offered to plugins) until those pods go.

Everything runs on the scheduler's event loop; no method awaits, so a decision never sees a
half-applied update. An assumption is never expired by time: a successful bind is always followed
by the informer's update (or deletion) of the pod, which confirms (or removes) it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from cluster.scheduler.framework import NodeInfo, NodeTable, PodInfo
from cluster.scheduler.framework.topology import TopologyIndex
from raykube.v1 import node_pb2, pod_pb2

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Entry:
    info: PodInfo
    node: str
    assumed: bool


class Cache:
    def __init__(self) -> None:
        self._nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _Entry] = {}
        self._node_list: NodeTable | None = None
        self._changed: dict[str, NodeInfo] = {}  # NodeInfos whose row in _node_list is stale
        self._relabeled = False  # some node's labels changed since _node_list last caught up
        # Nodes with pods that have affinity / required anti-affinity terms, for inter-pod
        # affinity (node name -> NodeInfo; a list of those with a Node is made when asked).
        self._with_affinity: dict[str, NodeInfo] = {}
        self._with_anti_affinity: dict[str, NodeInfo] = {}
        self._image_nodes: Counter[str] = Counter()  # normalized image name -> nodes that have it
        self.topology = TopologyIndex()  # pods per topology domain, for PodTopologySpread
        self.topology.bind(self._nodes.values())

    # -- reads -----------------------------------------------------------------------------

    def nodes(self) -> NodeTable:
        """The NodeInfos that have a Node, in the order the nodes were added, as a table (the same
        one until a node is added or removed, its rows brought up to date on each call)."""
        if self._node_list is None:
            self._node_list = NodeTable([info for info in self._nodes.values() if info.node is not None])
        else:
            for info in self._changed.values():
                self._node_list.refresh(info)
            if self._relabeled:
                self._node_list.relabeled()
        self._changed.clear()
        self._relabeled = False
        return self._node_list

    def nodes_with_affinity(self) -> list[NodeInfo]:
        return [info for info in self._with_affinity.values() if info.node is not None]

    def nodes_with_required_anti_affinity(self) -> list[NodeInfo]:
        return [info for info in self._with_anti_affinity.values() if info.node is not None]

    def nodes_with_image(self, image: str) -> int:
        return self._image_nodes[image]

    def node(self, name: str) -> NodeInfo | None:
        return self._nodes.get(name)

    def is_assumed(self, key: str) -> bool:
        entry = self._pods.get(key)
        return entry is not None and entry.assumed

    def node_of(self, key: str) -> str | None:
        entry = self._pods.get(key)
        return entry.node if entry else None

    def __len__(self) -> int:
        return len(self._pods)

    # -- nodes -----------------------------------------------------------------------------

    def set_node(self, node: node_pb2.Node) -> None:
        name = node.metadata.name
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo(name, node)
            self._node_list = None
            self._image_nodes.update(info.images.keys())
            self.topology.node_set(info, moved=True)
            return
        moved = info.node is None or info.labels != dict(node.metadata.labels)  # not every status update
        self._changed[name] = info
        self._relabeled |= moved
        if info.node is None:
            self._node_list = None
        self._image_nodes.subtract(info.images.keys())
        info.set_node(node)
        self.topology.node_set(info, moved=moved)
        self._image_nodes.update(info.images.keys())
        self._image_nodes += Counter()  # drop images no node has any more

    def remove_node(self, name: str) -> None:
        info = self._nodes.get(name)
        if info is None:
            return
        self._node_list = None
        self.topology.node_removed(info)
        self._image_nodes.subtract(info.images.keys())
        self._image_nodes += Counter()
        info.images = {}
        if info.pods:
            info.node = None  # keep counting its pods until they are deleted too
        else:
            del self._nodes[name]

    # -- pods ------------------------------------------------------------------------------

    def assume(self, pod: PodInfo, node_name: str) -> None:
        """Count `pod` on `node_name` ahead of the API; the pod must not be in the cache yet."""
        if pod.key in self._pods:
            raise ValueError(f"pod {pod.key} is already in the scheduler cache; cannot assume it")
        self._add(pod, node_name, assumed=True)

    def forget(self, key: str) -> None:
        """Undo `assume` (binding failed). A pod the informer has confirmed meanwhile stays."""
        entry = self._pods.get(key)
        if entry is not None and entry.assumed:
            self._remove(key)

    def set_pod(self, pod: pod_pb2.Pod) -> None:
        """The informer's view of a pod bound to a node: add, update, or confirm an assumption."""
        info = PodInfo(pod)
        entry = self._pods.get(info.key)
        if entry is not None:
            if entry.assumed and entry.node != pod.spec.node_name:
                log.info("pod %s assumed on %s was bound to %s", info.key, entry.node, pod.spec.node_name)
            self._remove(info.key)
        self._add(info, pod.spec.node_name, assumed=False)

    def remove_pod(self, key: str) -> None:
        if key in self._pods:
            self._remove(key)

    def _add(self, pod: PodInfo, node_name: str, *, assumed: bool) -> None:
        info = self._nodes.get(node_name)
        if info is None:
            info = self._nodes[node_name] = NodeInfo(node_name)
        info.add_pod(pod)
        self._changed[node_name] = info
        self._pods[pod.key] = _Entry(pod, node_name, assumed)
        self._index(info)
        self.topology.pod_added(info, pod)

    def _remove(self, key: str) -> None:
        entry = self._pods.pop(key)
        info = self._nodes[entry.node]
        info.remove_pod(key)
        self._changed[entry.node] = info
        self._index(info)
        self.topology.pod_removed(info, entry.info)
        if info.node is None and not info.pods:
            del self._nodes[entry.node]

    def _index(self, info: NodeInfo) -> None:
        for index, has in ((self._with_affinity, info.pods_with_affinity),
                           (self._with_anti_affinity, info.pods_with_required_anti_affinity)):  # fmt: skip
            if has:
                index[info.name] = info
            else:
                index.pop(info.name, None)
