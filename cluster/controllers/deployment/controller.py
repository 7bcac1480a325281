"""The Deployment controller: rolls a Deployment's template out through ReplicaSets.

sync(namespace/name), level-triggered (Kubernetes' syncDeployment):
  - claim the namespace's ReplicaSets the selector matches (owners.claim);
  - the new ReplicaSet is the one whose template is the Deployment's (pod-template-hash aside);
    if none exists (and the Deployment is not paused) it is created, named
    `<deployment>-<pod-template-hash>`, with the next revision; a template that comes back (a
    rollback) makes its old ReplicaSet the new one, with the next revision;
  - RollingUpdate: scale the new ReplicaSet up as far as maxSurge allows, then the old ones down as
    far as maxUnavailable allows (unavailable old pods first); Recreate: scale the old ones to zero,
    wait until their pods are gone, then scale the new one up;
  - paused: no rollout, only scaling of the newest ReplicaSet;
  - once complete, delete old ReplicaSets beyond revisionHistoryLimit;
  - status: replicas, updated/ready/available/unavailable counts, observedGeneration, and the
    Available and Progressing conditions (ProgressDeadlineExceeded after progressDeadlineSeconds
    without progress).
Events: ScalingReplicaSet on every scale.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources, wellknown
from cluster.api import labels as label_selectors
from cluster.api import pods as podutil
from cluster.client.api import ApiClient
from cluster.client.events import NORMAL, EventRecorder
from cluster.controllers.controller import Controller, key_of, split_key
from cluster.controllers.deployment import rollout
from cluster.controllers.informers import SharedInformers
from cluster.controllers.owners import claim, controller_of, controller_reference
from cluster.errors import AlreadyExists
from raykube.v1 import apps_pb2, pod_pb2

log = logging.getLogger(__name__)
Sets = list[apps_pb2.ReplicaSet]


class DeploymentController(Controller):
    name = "deployment-controller"

    def __init__(
        self,
        client: ApiClient,
        informers: SharedInformers,
        recorder: EventRecorder,
        *,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__()
        self._client = client
        self._recorder = recorder
        self._clock = clock
        self._deployments = informers[resources.DEPLOYMENTS]
        self._sets = informers[resources.REPLICASETS]
        self._pods = informers[resources.PODS]
        self._deployments.add_handler(_DeploymentEvents(self))
        self._sets.add_handler(_ReplicaSetEvents(self))
        self._pods.add_handler(_PodEvents(self))

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        d = self._deployments.get(namespace, name)
        if d is None:
            return
        selector = label_selectors.from_label_selector(d.spec.selector)
        sets = await claim(self._client, d, selector, self._sets.items(namespace))
        if d.metadata.HasField("deletion_timestamp"):
            await self._sync_status(d, sets, None, progressed=False)
            return
        if d.spec.paused:
            new = self._new_set(d, sets)
            scaled = new is not None and await self._scale(d, new, d.spec.replicas)
            await self._sync_status(d, sets, new, progressed=scaled)
            return
        if d.spec.strategy.type == "Recreate":
            await self._recreate(d, sets)
        else:
            await self._rolling(d, sets)

    def _new_set(
        self, d: apps_pb2.Deployment, sets: Sequence[apps_pb2.ReplicaSet]
    ) -> apps_pb2.ReplicaSet | None:
        matching = [rs for rs in sets if rollout.same_template(rs, d)]
        return min(matching, key=lambda rs: rs.metadata.creation_timestamp.seconds, default=None)

    async def _new_set_or_create(
        self, d: apps_pb2.Deployment, sets: Sequence[apps_pb2.ReplicaSet], replicas: Callable[[Sets], int]
    ) -> tuple[apps_pb2.ReplicaSet, bool]:
        """The new ReplicaSet, created if missing with `replicas(old sets)`; whether it was created."""
        old = [rs for rs in sets if not rollout.same_template(rs, d)]
        revision = rollout.max_revision(old) + 1
        existing = self._new_set(d, sets)
        if existing is not None:
            if rollout.revision_of(existing) < revision:  # an old template came back: a rollback
                existing = await self._set_revision(existing, revision)
            await self._set_deployment_revision(d, rollout.revision_of(existing))
            return existing, False
        collisions = d.status.collision_count
        while True:
            template_hash = rollout.template_hash(d.spec.template, collisions)
            rs = apps_pb2.ReplicaSet()
            rs.metadata.name = f"{d.metadata.name}-{template_hash}"
            rs.metadata.namespace = d.metadata.namespace
            rs.metadata.labels.update(d.spec.template.metadata.labels)
            rs.metadata.labels[wellknown.POD_TEMPLATE_HASH] = template_hash
            rs.metadata.annotations[wellknown.REVISION] = str(revision)
            rs.metadata.owner_references.append(controller_reference(d))
            rs.spec.selector.CopyFrom(d.spec.selector)
            rs.spec.selector.match_labels[wellknown.POD_TEMPLATE_HASH] = template_hash
            rs.spec.template.CopyFrom(d.spec.template)
            rs.spec.template.metadata.labels[wellknown.POD_TEMPLATE_HASH] = template_hash
            rs.spec.min_ready_seconds = d.spec.min_ready_seconds
            rs.spec.replicas = replicas(old)
            self._annotate_replicas(d, rs)
            try:
                created = await self._client.create(rs)
            except AlreadyExists:
                collisions += 1  # a name taken by another template: hash again (status.collisionCount)
                continue
            break
        message = f"Scaled up replica set {created.metadata.name} to {created.spec.replicas}"
        if created.spec.replicas:
            self._recorder.event(d, NORMAL, "ScalingReplicaSet", message)
        await self._set_deployment_revision(d, revision)
        return created, True

    async def _set_revision(self, rs: apps_pb2.ReplicaSet, revision: int) -> apps_pb2.ReplicaSet:
        updated = apps_pb2.ReplicaSet()
        updated.CopyFrom(rs)
        old = updated.metadata.annotations.get(wellknown.REVISION, "")
        history = [
            h for h in updated.metadata.annotations.get(wellknown.REVISION_HISTORY, "").split(",") if h
        ]
        if old:
            updated.metadata.annotations[wellknown.REVISION_HISTORY] = ",".join([*history, old])
        updated.metadata.annotations[wellknown.REVISION] = str(revision)
        return await self._client.update(updated)

    async def _set_deployment_revision(self, d: apps_pb2.Deployment, revision: int) -> None:
        if d.metadata.annotations.get(wellknown.REVISION) == str(revision):
            return
        updated = apps_pb2.Deployment()
        updated.CopyFrom(d)
        updated.metadata.annotations[wellknown.REVISION] = str(revision)
        d.CopyFrom(await self._client.update(updated))

    def _annotate_replicas(self, d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet) -> None:
        surge, _ = rollout.surge_and_unavailable(d)
        rs.metadata.annotations[wellknown.DESIRED_REPLICAS] = str(d.spec.replicas)
        rs.metadata.annotations[wellknown.MAX_REPLICAS] = str(d.spec.replicas + surge)

    async def _scale(self, d: apps_pb2.Deployment, rs: apps_pb2.ReplicaSet, replicas: int) -> bool:
        """Set `rs` to `replicas` (and its annotations to the Deployment's), recording
        ScalingReplicaSet; whether the count changed."""
        was = rs.spec.replicas
        updated = apps_pb2.ReplicaSet()
        updated.CopyFrom(rs)
        updated.spec.replicas = replicas
        self._annotate_replicas(d, updated)
        if updated != rs:
            rs.CopyFrom(await self._client.update(updated))
        if was == replicas:
            return False
        if replicas > was:
            message = f"Scaled up replica set {rs.metadata.name} to {replicas}"
        else:
            message = f"Scaled down replica set {rs.metadata.name} to {replicas} from {was}"
        self._recorder.event(d, NORMAL, "ScalingReplicaSet", message)
        return True

    async def _rolling(self, d: apps_pb2.Deployment, sets: Sets) -> None:
        new, created = await self._new_set_or_create(d, sets, lambda old: rollout.new_replicas(d, old, 0))
        old = [rs for rs in sets if rs.metadata.uid != new.metadata.uid]
        all_sets = [*old, new]
        if created:
            await self._sync_status(d, all_sets, new, progressed=True)
            return
        if await self._scale(
            d, new, min(rollout.new_replicas(d, all_sets, new.spec.replicas), d.spec.replicas)
        ):
            await self._sync_status(d, all_sets, new, progressed=True)
            return
        if await self._scale_down_old(d, old, new):
            await self._sync_status(d, [*old, new], new, progressed=True)
            return
        await self._finish(d, old, new)

    async def _scale_down_old(self, d: apps_pb2.Deployment, old: Sets, new: apps_pb2.ReplicaSet) -> bool:
        budget = rollout.old_scale_down_budget(d, [*old, new], new)
        if budget <= 0:
            return False
        scaled = 0
        oldest_first = sorted(old, key=lambda rs: rs.metadata.creation_timestamp.seconds)
        for rs in oldest_first:  # unavailable old pods cost nothing to lose: first
            unhealthy = rs.spec.replicas - rs.status.available_replicas
            if scaled >= budget or unhealthy <= 0:
                continue
            step = min(budget - scaled, unhealthy)
            await self._scale(d, rs, rs.spec.replicas - step)
            scaled += step
        _, unavailable = rollout.surge_and_unavailable(d)
        min_available = d.spec.replicas - unavailable
        available = rollout.available_of([*old, new])
        remaining = min(available - min_available, budget - scaled)
        for rs in oldest_first:
            if remaining <= 0:
                break
            if rs.spec.replicas == 0:
                continue
            step = min(rs.spec.replicas, remaining)
            await self._scale(d, rs, rs.spec.replicas - step)
            scaled += step
            remaining -= step
        return scaled > 0

    async def _recreate(self, d: apps_pb2.Deployment, sets: Sets) -> None:
        new = self._new_set(d, sets)
        old = [rs for rs in sets if new is None or rs.metadata.uid != new.metadata.uid]
        scaled = False
        for rs in old:
            scaled |= await self._scale(d, rs, 0)
        if scaled:
            await self._sync_status(d, sets, new, progressed=True)
            return
        old_uids = {rs.metadata.uid for rs in old}
        if any(
            (ref := controller_of(p)) is not None
            and ref.uid in old_uids
            and p.status.phase not in podutil.TERMINAL_PHASES
            for p in self._pods.items(d.metadata.namespace)
        ):
            await self._sync_status(d, sets, new, progressed=False)  # old pods still stopping: wait
            return
        if new is None:
            new, _ = await self._new_set_or_create(d, sets, lambda _: d.spec.replicas)
        elif await self._scale(d, new, d.spec.replicas):
            await self._sync_status(d, [*old, new], new, progressed=True)
            return
        await self._finish(d, old, new)

    async def _finish(self, d: apps_pb2.Deployment, old: Sets, new: apps_pb2.ReplicaSet) -> None:
        status = await self._sync_status(d, [*old, new], new, progressed=False)
        if rollout.complete(d, status):
            await self._cleanup(d, old)

    async def _cleanup(self, d: apps_pb2.Deployment, old: Sets) -> None:
        """Delete old, empty ReplicaSets beyond revisionHistoryLimit, oldest revisions first."""
        empty = [rs for rs in old if rs.spec.replicas == 0 and rs.status.replicas == 0
                 and not rs.metadata.HasField("deletion_timestamp")]  # fmt: skip
        surplus = len(empty) - d.spec.revision_history_limit
        for rs in sorted(empty, key=rollout.revision_of)[: max(surplus, 0)]:
            await self._client.delete(
                resources.REPLICASETS, rs.metadata.namespace, rs.metadata.name, uid=rs.metadata.uid
            )

    # -- status ------------------------------------------------------------------------------------

    async def _sync_status(
        self,
        d: apps_pb2.Deployment,
        sets: Sequence[apps_pb2.ReplicaSet],
        new: apps_pb2.ReplicaSet | None,
        *,
        progressed: bool,
    ) -> apps_pb2.DeploymentStatus:
        now = self._clock()
        status = deployment_status(d, sets, new, now, progressed=progressed)
        if status != d.status:
            updated = apps_pb2.Deployment()
            updated.CopyFrom(d)
            updated.status.CopyFrom(status)
            await self._client.update_status(updated)
        if not rollout.complete(d, status) and not d.spec.paused:
            self.queue.add_after(
                key_of(d.metadata.namespace, d.metadata.name), d.spec.progress_deadline_seconds + 1
            )
        return status

    # -- events ------------------------------------------------------------------------------------

    def enqueue(self, obj: Any) -> None:
        self.queue.add(key_of(obj.metadata.namespace, obj.metadata.name))

    def owner_of(self, rs: apps_pb2.ReplicaSet) -> apps_pb2.Deployment | None:
        ref = controller_of(rs)
        if ref is None or ref.kind != "Deployment":
            return None
        d = self._deployments.get(rs.metadata.namespace, ref.name)
        return d if d is not None and d.metadata.uid == ref.uid else None

    def enqueue_for_set(self, rs: apps_pb2.ReplicaSet) -> None:
        owner = self.owner_of(rs)
        if owner is not None:
            self.enqueue(owner)
        elif controller_of(rs) is None:  # an orphan: whoever may adopt it
            for d in self._deployments.items(rs.metadata.namespace):
                if label_selectors.from_label_selector(d.spec.selector).matches(rs.metadata.labels):
                    self.enqueue(d)


def deployment_status(
    d: apps_pb2.Deployment,
    sets: Sequence[apps_pb2.ReplicaSet],
    new: apps_pb2.ReplicaSet | None,
    now: float,
    *,
    progressed: bool,
) -> apps_pb2.DeploymentStatus:
    """The status `d` should report (pure): counts summed over its ReplicaSets, and conditions."""
    available = rollout.available_of(sets)
    status = apps_pb2.DeploymentStatus(
        observed_generation=d.metadata.generation,
        replicas=sum(rs.status.replicas for rs in sets),
        updated_replicas=new.status.replicas if new is not None else 0,
        ready_replicas=sum(rs.status.ready_replicas for rs in sets),
        available_replicas=available,
        unavailable_replicas=max(d.spec.replicas - available, 0),
        conditions=d.status.conditions,
    )
    if d.status.HasField("collision_count"):
        status.collision_count = d.status.collision_count
    stamp = Timestamp(seconds=int(now))
    _, unavailable = rollout.surge_and_unavailable(d)
    if available >= d.spec.replicas - unavailable:
        conditions.set_condition(status.conditions, "Available", "True", stamp, "MinimumReplicasAvailable",
                                 "Deployment has minimum availability.")  # fmt: skip
    else:
        conditions.set_condition(status.conditions, "Available", "False", stamp, "MinimumReplicasUnavailable",
                                 "Deployment does not have minimum availability.")  # fmt: skip
    _progressing(d, status, new, stamp, progressed)
    return status


def _progressing(
    d: apps_pb2.Deployment,
    status: apps_pb2.DeploymentStatus,
    new: apps_pb2.ReplicaSet | None,
    stamp: Timestamp,
    progressed: bool,
) -> None:
    current = conditions.find(status.conditions, "Progressing")
    name = new.metadata.name if new is not None else d.metadata.name

    def set_(state: str, reason: str, message: str, *, touch: bool) -> None:
        condition = conditions.set_condition(status.conditions, "Progressing", state, stamp, reason, message)
        if touch or not condition.HasField("last_update_time"):
            condition.last_update_time.CopyFrom(stamp)

    if d.spec.paused:
        set_(
            "Unknown",
            "DeploymentPaused",
            "Deployment is paused",
            touch=current is None or current.reason != "DeploymentPaused",
        )
    elif rollout.complete(d, status):
        set_("True", "NewReplicaSetAvailable", f'ReplicaSet "{name}" has successfully progressed.',
             touch=current is None or current.reason != "NewReplicaSetAvailable")  # fmt: skip
    elif (
        progressed
        or current is None
        or _counts(status) != _counts(d.status)
        or current.reason == "DeploymentPaused"
    ):
        reason = "ReplicaSetUpdated" if current is not None else "NewReplicaSetCreated"
        message = (
            f'ReplicaSet "{name}" is progressing.'
            if current is not None
            else f'Created new replica set "{name}"'
        )
        set_("True", reason, message, touch=True)
    elif (
        current.status == "True"
        and current.last_update_time.seconds + d.spec.progress_deadline_seconds < stamp.seconds
    ):
        set_(
            "False", "ProgressDeadlineExceeded", f'ReplicaSet "{name}" has timed out progressing.', touch=True
        )


def _counts(status: apps_pb2.DeploymentStatus) -> tuple[int, int, int, int]:
    return status.replicas, status.updated_replicas, status.ready_replicas, status.available_replicas


class _DeploymentEvents:
    def __init__(self, controller: DeploymentController):
        self._c = controller

    def on_add(self, d: apps_pb2.Deployment) -> None:
        self._c.enqueue(d)

    def on_update(self, old: apps_pb2.Deployment, new: apps_pb2.Deployment) -> None:
        self._c.enqueue(new)

    def on_delete(self, d: apps_pb2.Deployment) -> None:
        self._c.enqueue(d)


class _ReplicaSetEvents:
    def __init__(self, controller: DeploymentController):
        self._c = controller

    def on_add(self, rs: apps_pb2.ReplicaSet) -> None:
        self._c.enqueue_for_set(rs)

    def on_update(self, old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> None:
        old_ref, new_ref = controller_of(old), controller_of(new)
        if old_ref is not None and (new_ref is None or new_ref.uid != old_ref.uid):
            self._c.enqueue_for_set(old)
        self._c.enqueue_for_set(new)

    def on_delete(self, rs: apps_pb2.ReplicaSet) -> None:
        self._c.enqueue_for_set(rs)


class _PodEvents:
    """A Recreate rollout waits for the old pods to be gone: their deletion wakes it."""

    def __init__(self, controller: DeploymentController):
        self._c = controller

    def on_add(self, pod: pod_pb2.Pod) -> None:
        pass

    def on_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if new.status.phase in podutil.TERMINAL_PHASES and old.status.phase not in podutil.TERMINAL_PHASES:
            self.on_delete(new)

    def on_delete(self, pod: pod_pb2.Pod) -> None:
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return
        rs = self._c._sets.get(pod.metadata.namespace, ref.name)
        if rs is not None:
            owner = self._c.owner_of(rs)
            if owner is not None and owner.spec.strategy.type == "Recreate":
                self._c.enqueue(owner)
