"""Priority admission (kube-apiserver's Priority plugin): a pod's priority comes from its class.

On create, spec.priorityClassName names a PriorityClass (403 when there is none of that name);
a pod that names none gets the cluster's globalDefault class, if one exists (the lowest, if
several), else priority 0. The class's value becomes spec.priority and its preemptionPolicy the
pod's unless the pod says otherwise; a priority the pod states itself must equal what its class
gives (403 otherwise), as in Kubernetes. The scheduler orders and preempts by spec.priority.
The two system classes (system-cluster-critical, system-node-critical) exist in every cluster.
Classes are read from the API server's watch cache (kube-apiserver's plugin reads an informer),
so a pod create costs no store read for them.
"""

from __future__ import annotations

from cluster.api import resources
from cluster.apiserver.registry import Registry
from cluster.apiserver.validation import SYSTEM_PRIORITY_CLASSES
from cluster.errors import Forbidden, NotFound
from raykube.v1 import pod_pb2, scheduling_pb2


def system_priority_classes() -> list[scheduling_pb2.PriorityClass]:
    made = []
    for name, value in SYSTEM_PRIORITY_CLASSES.items():
        pc = scheduling_pb2.PriorityClass(value=value, preemption_policy="PreemptLowerPriority")
        pc.metadata.name = name
        pc.description = (
            f"Used for {'node' if 'node' in name else 'system'}-critical pods that must not be moved."
        )
        made.append(pc)
    return made


async def admit(registry: Registry, pod: pod_pb2.Pod) -> None:
    spec = pod.spec
    name = spec.priority_class_name
    forbidden = f'pods "{pod.metadata.name}" is forbidden'
    chosen: scheduling_pb2.PriorityClass | None
    if name:
        try:
            chosen = await registry.cached_get(resources.PRIORITYCLASSES, "", name)
        except NotFound:
            raise Forbidden(f"{forbidden}: no PriorityClass with name {name} was found") from None
    else:
        classes = await registry.cached_list(resources.PRIORITYCLASSES)
        defaults = sorted((pc for pc in classes if pc.global_default), key=lambda pc: pc.value)
        chosen = defaults[0] if defaults else None
    value = chosen.value if chosen is not None else 0
    if spec.HasField("priority") and spec.priority != value:
        raise Forbidden(
            f"{forbidden}: the integer value of priority ({spec.priority}) must not be provided in pod spec; "
            f"priority admission controller computed {value} from the given PriorityClass name"
        )
    spec.priority = value
    if chosen is not None:
        spec.priority_class_name = chosen.metadata.name
        if not spec.HasField("preemption_policy"):
            spec.preemption_policy = chosen.preemption_policy or "PreemptLowerPriority"
