"""A Deployment's rollout arithmetic and bookkeeping, pure (Kubernetes' deployment/util).

- pod-template-hash: a short, stable name for a template (fnv-1a of its serialized form, spelled
  in Kubernetes' safe alphabet), which names the ReplicaSet and labels its pods.
- maxSurge/maxUnavailable resolved against the desired replicas: surge rounds up, unavailability
  down, and they are never both zero.
- How far the new ReplicaSet may scale up, and how far the old ones may scale down, so that at
  most replicas + maxSurge pods exist and at least replicas - maxUnavailable are available.
- Revisions: each ReplicaSet carries the revision it was the new one at; a template that comes
  back (a rollback) takes the next revision.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from cluster.api import wellknown
from raykube.v1 import apps_pb2, pod_pb2

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # no vowels: no words in names


def template_hash(template: pod_pb2.PodTemplateSpec, collision_count: int = 0) -> str:
    """The pod-template-hash of `template` (and the collision count, when names collided)."""
    data = template.SerializeToString(deterministic=True) + collision_count.to_bytes(4, "big")
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE_ALPHABET[ord(c) % len(_SAFE_ALPHABET)] for c in str(value))


def without_hash(template: pod_pb2.PodTemplateSpec) -> pod_pb2.PodTemplateSpec:
    bare = pod_pb2.PodTemplateSpec()
    bare.CopyFrom(template)
    bare.metadata.labels.pop(wellknown.POD_TEMPLATE_HASH, None)
    return bare


def same_template(rs: apps_pb2.ReplicaSet, deployment: apps_pb2.Deployment) -> bool:
    """Whether `rs` runs the deployment's current template (its own hash label aside)."""
    return without_hash(rs.spec.template) == without_hash(deployment.spec.template)


def _scaled(value: str, total: int, round_up: bool) -> int:
    if value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value or 0)


def surge_and_unavailable(deployment: apps_pb2.Deployment) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as pod counts; Recreate: (0, replicas)."""
    replicas = deployment.spec.replicas
    if deployment.spec.strategy.type == "Recreate":
        return 0, replicas
    rolling = deployment.spec.strategy.rolling_update
    surge = _scaled(rolling.max_surge, replicas, round_up=True)
    unavailable = _scaled(rolling.max_unavailable, replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # a rollout must be able to move
    return surge, min(unavailable, replicas)


def replicas_of(sets: Sequence[apps_pb2.ReplicaSet]) -> int:
    return sum(rs.spec.replicas for rs in sets)


def available_of(sets: Sequence[apps_pb2.ReplicaSet]) -> int:
    return sum(rs.status.available_replicas for rs in sets)


def new_replicas(
    deployment: apps_pb2.Deployment, all_sets: Sequence[apps_pb2.ReplicaSet], new_now: int
) -> int:
    """What the new ReplicaSet should scale to now (it has `new_now`): up to the desired count,
    without more than replicas + maxSurge pods in all."""
    desired = deployment.spec.replicas
    if deployment.spec.strategy.type == "Recreate":
        return desired
    surge, _ = surge_and_unavailable(deployment)
    room = desired + surge - replicas_of(all_sets)
    if room <= 0:
        return new_now
    return new_now + min(room, max(desired - new_now, 0))


def old_scale_down_budget(
    deployment: apps_pb2.Deployment, all_sets: Sequence[apps_pb2.ReplicaSet], new: apps_pb2.ReplicaSet | None
) -> int:
    """How many old pods may go now without available pods dropping below replicas - maxUnavailable,
    counting the new ReplicaSet's not-yet-available pods as unavailable."""
    _, unavailable = surge_and_unavailable(deployment)
    min_available = deployment.spec.replicas - unavailable
    new_unavailable = (new.spec.replicas - new.status.available_replicas) if new is not None else 0
    return max(replicas_of(all_sets) - min_available - new_unavailable, 0)


def revision_of(rs: apps_pb2.ReplicaSet) -> int:
    text = rs.metadata.annotations.get(wellknown.REVISION, "")
    return int(text) if text.isdigit() else 0


def max_revision(sets: Sequence[apps_pb2.ReplicaSet]) -> int:
    return max((revision_of(rs) for rs in sets), default=0)


def complete(deployment: apps_pb2.Deployment, status: apps_pb2.DeploymentStatus) -> bool:
    """Every desired pod runs the new template and is available, and no old pod is left."""
    desired = deployment.spec.replicas
    return (
        status.updated_replicas == desired
        and status.replicas == desired
        and status.available_replicas == desired
        and status.observed_generation >= deployment.metadata.generation
    )
