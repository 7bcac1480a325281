"""PodInfo: a pod plus everything the plugins would otherwise recompute for it on every node.

Built once per pod (when it enters the cache, or when it is popped for scheduling), so filters and
scores over 100 nodes read integers and parsed selectors instead of re-parsing quantity strings and
label selectors 100 times. PodInfo is immutable after construction; a changed pod gets a new one.

Requests follow Kubernetes: a pod requests the sum of its containers' requests (the API server
defaults a missing request to the limit). For scoring only, a container that names no cpu or no
memory request counts Kubernetes' non-zero defaults (100m, 200Mi), so empty pods still spread.
Anything that does not parse is kept in `errors` (and counted as zero) rather than raised: the
scheduler reports it on the pod instead of crashing on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cluster.api import labels, quantity
from raykube.v1 import pod_pb2

DEFAULT_MILLI_CPU_REQUEST = 100  # kube-scheduler's non-zero default: 0.1 core
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024  # and 200 MiB


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A pod (anti-)affinity term: pods in `namespaces` matching `selector`, per `topology_key` domain."""

    namespaces: frozenset[str]
    selector: labels.Selector | None  # None: an absent labelSelector, which selects no pod
    topology_key: str

    def matches(self, pod: PodInfo) -> bool:
        return (
            self.selector is not None
            and pod.namespace in self.namespaces
            and self.selector.matches(pod.labels)
        )


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    term: AffinityTerm
    weight: int


def pod_key(pod: pod_pb2.Pod) -> str:
    """The identity of a pod across its updates: its uid (namespace/name only if it has none)."""
    return pod.metadata.uid or f"{pod.metadata.namespace}/{pod.metadata.name}"


class PodInfo:
    __slots__ = (
        "errors",
        "has_affinity",
        "host_ports",
        "key",
        "labels",
        "match_key",
        "memory",
        "milli_cpu",
        "namespace",
        "non_zero_memory",
        "non_zero_milli_cpu",
        "pod",
        "preferred_affinity",
        "preferred_anti_affinity",
        "priority",
        "required_affinity",
        "required_anti_affinity",
    )

    def __init__(self, pod: pod_pb2.Pod):
        self.pod = pod
        self.key = pod_key(pod)
        self.namespace = pod.metadata.namespace
        self.priority = pod.spec.priority
        self.labels: Mapping[str, str] = dict(pod.metadata.labels)
        # All that an affinity term can see of this pod: pods with equal keys match the same terms.
        self.match_key = (self.namespace, frozenset(self.labels.items()))
        errors: list[str] = []
        self.milli_cpu, self.memory, self.non_zero_milli_cpu, self.non_zero_memory = _requests(pod, errors)
        self.required_affinity: tuple[AffinityTerm, ...] = ()
        self.required_anti_affinity: tuple[AffinityTerm, ...] = ()
        self.preferred_affinity: tuple[WeightedTerm, ...] = ()
        self.preferred_anti_affinity: tuple[WeightedTerm, ...] = ()
        if pod.spec.HasField("affinity"):  # most pods have none: not even a walk over empty terms
            affinity = pod.spec.affinity
            pod_affinity, anti = affinity.pod_affinity, affinity.pod_anti_affinity
            required = "required_during_scheduling_ignored_during_execution"
            preferred = "preferred_during_scheduling_ignored_during_execution"
            self.required_affinity = self._terms(getattr(pod_affinity, required), errors)
            self.required_anti_affinity = self._terms(getattr(anti, required), errors)
            self.preferred_affinity = self._weighted(getattr(pod_affinity, preferred), errors)
            self.preferred_anti_affinity = self._weighted(getattr(anti, preferred), errors)
        self.errors = tuple(errors)
        # (protocol, hostPort) of each container port published on its node
        self.host_ports = tuple(
            (port.protocol or "TCP", port.host_port)
            for container in pod.spec.containers
            for port in container.ports
            if port.host_port > 0
        )
        self.has_affinity = bool(  # any pod (anti-)affinity term, required or preferred
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )

    def _terms(self, terms: Iterable[pod_pb2.PodAffinityTerm], errors: list[str]) -> tuple[AffinityTerm, ...]:
        return tuple(self._term(t, errors) for t in terms)

    def _weighted(
        self, terms: Iterable[pod_pb2.WeightedPodAffinityTerm], errors: list[str]
    ) -> tuple[WeightedTerm, ...]:
        return tuple(
            WeightedTerm(self._term(t.pod_affinity_term, errors), t.weight) for t in terms if t.weight
        )

    def _term(self, term: pod_pb2.PodAffinityTerm, errors: list[str]) -> AffinityTerm:
        selector = None
        if term.HasField("label_selector"):
            try:
                selector = labels.from_label_selector(term.label_selector)
            except labels.SelectorError as err:
                errors.append(f"invalid pod affinity term: {err}")
        namespaces = frozenset(term.namespaces) or frozenset([self.namespace])
        return _intern(AffinityTerm(namespaces, selector, term.topology_key))


_INTERNED: dict[AffinityTerm, AffinityTerm] = {}
_MAX_INTERNED = 10_000


def _intern(term: AffinityTerm) -> AffinityTerm:
    """One shared object per distinct term, so a scheduling attempt can remember "does term X
    match the incoming pod" by identity while walking many pods that carry the same term (the
    replicas of one workload). Only a cache: dropping it costs speed, never correctness."""
    if len(_INTERNED) >= _MAX_INTERNED:
        _INTERNED.clear()
    return _INTERNED.setdefault(term, term)


def _requests(pod: pod_pb2.Pod, errors: list[str]) -> tuple[int, int, int, int]:
    """(millicpu, memory bytes, non-zero millicpu, non-zero memory) summed over the containers."""
    cpu = memory = non_zero_cpu = non_zero_memory = 0
    for container in pod.spec.containers:
        requests = container.resources.requests
        c = _parse(requests, "cpu", quantity.milli_value, container.name, errors)
        m = _parse(requests, "memory", quantity.value, container.name, errors)
        cpu += c
        memory += m
        non_zero_cpu += c if "cpu" in requests else DEFAULT_MILLI_CPU_REQUEST
        non_zero_memory += m if "memory" in requests else DEFAULT_MEMORY_REQUEST
    return cpu, memory, non_zero_cpu, non_zero_memory


def _parse(
    requests: Mapping[str, str], name: str, parse: Callable[[str], int], container: str, errors: list[str]
) -> int:
    text = requests.get(name)
    if text is None:
        return 0
    try:
        return parse(text)
    except quantity.QuantityError as err:
        errors.append(f"container {container!r}: invalid {name} request {text!r}: {err}")
        return 0
