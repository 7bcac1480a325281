"""DefaultPreemption: when a pod fits no node, find one where evicting lower-priority pods makes
it fit, and nominate it (kube-scheduler's default PostFilter).

  eligible     preemptionPolicy is not Never, and the pod is not already waiting for victims of
               an earlier preemption to terminate on its nominated node;
  candidates   the nodes that rejected the pod as Unschedulable (not Unresolvable: evicting
               pods does not change a node's labels or taints), looked at from a rotating
               start until 10% of the nodes (at least 100) are candidates;
  victims      on a copy of the node, every pod of lower priority is removed; if the pod then
               passes every filter, the removed pods are put back one by one, the most
               important first (higher priority, then the longer running), and each that still
               leaves room stays (is reprieved); the rest are the victims;
  the choice   the candidate whose victims' highest priority is lowest, then the lowest sum of
               their priorities, then the fewest victims, then the one whose most important
               victim started last (least work lost), then the first found.
It writes a Nomination (node, victims) into the cycle state; the scheduler deletes the victims,
records the nominated node in the pod's status, and retries the pod when they are gone. The pod
stays unschedulable in this attempt, as in Kubernetes.

Simplifications: there are no PodDisruptionBudgets to weigh; filters that counted pods in their
pre_filter (inter-pod affinity, topology spread) are not re-run without the victims, so a pod
kept out only by those rules finds no room by preemption; the space a nomination makes is not
reserved against pods of lower priority scheduled meanwhile (the queue tries higher priorities
first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cluster.scheduler.framework import (
    NOMINATION,
    SUCCESS,
    Code,
    CycleState,
    Handle,
    NodeInfo,
    Nomination,
    PodInfo,
    Status,
    unschedulable,
)

NAME = "DefaultPreemption"
NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
MIN_CANDIDATES, CANDIDATE_PERCENTAGE = 100, 10  # candidates enough to choose from (kube's defaults)


@dataclass(frozen=True)
class _Candidate:
    node: str
    victims: tuple[PodInfo, ...]

    def rank(self) -> tuple[int, int, int, float]:
        """Smaller is better (see the module docstring)."""
        priorities = [v.priority for v in self.victims]
        latest_start = max((_start(v) for v in self.victims if v.priority == max(priorities)), default=0.0)
        return (max(priorities, default=-(2**31)), sum(priorities), len(priorities), -latest_start)


class DefaultPreemption:
    name = NAME

    def __init__(self, handle: Handle):
        self._handle = handle
        self._offset = 0

    def post_filter(self, state: CycleState, pod: PodInfo, statuses: Mapping[str, Status]) -> Status:
        refusal = self._ineligible(pod)
        if refusal:
            return unschedulable(refusal)
        nodes = self._handle.nodes()
        total = len(nodes)
        enough = max(total * CANDIDATE_PERCENTAGE // 100, MIN_CANDIDATES)
        candidates: list[_Candidate] = []
        hopeless = 0
        self._offset = (self._offset + 1) % max(total, 1)  # look from elsewhere each time
        for i in range(total):
            node = nodes[(self._offset + i) % total]
            status = statuses.get(node.name)
            if status is None or status.code is not Code.UNSCHEDULABLE:
                hopeless += 1  # evicting pods does not change what made it unresolvable
                continue
            victims = self._victims(state, pod, node)
            if victims is not None:
                candidates.append(_Candidate(node.name, victims))
                if len(candidates) >= enough:
                    break
        if not candidates:
            reasons = [f"{total - hopeless} {NO_VICTIMS}"] if total > hopeless else []
            reasons += [f"{hopeless} {NOT_HELPFUL}"] if hopeless else []
            return unschedulable(f"preemption: 0/{total} nodes are available: {', '.join(sorted(reasons))}")
        best = min(candidates, key=_Candidate.rank)
        state.write(NOMINATION, Nomination(best.node, best.victims))
        return SUCCESS

    def _ineligible(self, pod: PodInfo) -> str:
        spec, nominated = pod.pod.spec, pod.pod.status.nominated_node_name
        if spec.preemption_policy == "Never":
            return "preemption: not eligible due to preemptionPolicy=Never"
        if nominated:
            node = next((n for n in self._handle.nodes() if n.name == nominated), None)
            if node is not None and any(
                p.priority < pod.priority and p.pod.metadata.HasField("deletion_timestamp")
                for p in node.pods.values()
            ):
                return "preemption: not eligible due to a terminating pod on the nominated node"
        return ""

    def _victims(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[PodInfo, ...] | None:
        """The pods to evict from `node` so that `pod` fits, or None if evicting cannot do it."""
        run_filters = self._handle.run_filters
        assert run_filters is not None, "the Framework lends its filters to post_filter plugins"
        lower = [p for p in node.pods.values() if p.priority < pod.priority]
        if not lower:
            return None
        trial = node.clone()
        for victim in lower:
            trial.remove_pod(victim.key)
        if not run_filters(state, pod, trial).ok:
            return None
        victims = []
        for candidate in sorted(lower, key=lambda p: (-p.priority, _start(p))):
            trial.add_pod(candidate)
            if not run_filters(state, pod, trial).ok:
                trial.remove_pod(candidate.key)
                victims.append(candidate)
        return tuple(victims)


def _start(pod: PodInfo) -> float:
    status = pod.pod.status
    stamp = status.start_time if status.HasField("start_time") else pod.pod.metadata.creation_timestamp
    return stamp.seconds + stamp.nanos / 1e9
