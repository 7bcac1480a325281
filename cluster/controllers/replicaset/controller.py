"""The ReplicaSet controller: keeps `spec.replicas` pods of a ReplicaSet's template running.

sync(namespace/name), level-triggered (Kubernetes' syncReplicaSet):
  1. claim the pods of the namespace: adopt orphans its selector matches, release owned pods that
     no longer match (owners.claim);
  2. unless expectations are outstanding (pods it created or deleted that the informer has not
     shown yet), create the missing pods from the template (in slow-start batches of 1, 2, 4, ...
     so a failing create costs one call, not hundreds) or delete the surplus, cheapest first
     (ranking.py);
  3. write the status: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas (ready for
     minReadySeconds), observedGeneration, and a ReplicaFailure condition while creates/deletes fail.
Pods that are terminating or finished do not count. Events: SuccessfulCreate, SuccessfulDelete,
FailedCreate, FailedDelete.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources
from cluster.api import labels as label_selectors
from cluster.api import pods as podutil
from cluster.client.api import ApiClient
from cluster.client.events import NORMAL, WARNING, EventRecorder
from cluster.controllers.controller import Controller, key_of, split_key
from cluster.controllers.informers import SharedInformers
from cluster.controllers.owners import claim, controller_of, controller_reference
from cluster.controllers.replicaset.expectations import Expectations
from cluster.controllers.replicaset.ranking import deletion_order
from cluster.errors import ApiError, NotFound
from raykube.v1 import apps_pb2, pod_pb2

log = logging.getLogger(__name__)
BURST = 500  # at most this many creates or deletes per sync


def pod_from_template(owner: apps_pb2.ReplicaSet) -> pod_pb2.Pod:
    """A new pod of `owner`: its template, named `<owner>-<random>`, controlled by it."""
    template = owner.spec.template
    pod = pod_pb2.Pod(spec=template.spec)
    pod.metadata.generate_name = f"{owner.metadata.name}-"
    pod.metadata.namespace = owner.metadata.namespace
    pod.metadata.labels.update(template.metadata.labels)
    pod.metadata.annotations.update(template.metadata.annotations)
    pod.metadata.owner_references.append(controller_reference(owner))
    return pod


async def slow_start(count: int, create: Callable[[], Any]) -> tuple[int, ApiError | None]:
    """Call `create` `count` times in batches of 1, 2, 4, ...; stop after a batch with a failure.
    Returns how many succeeded and the first failure."""
    done, batch = 0, 1
    while done < count:
        size = min(batch, count - done)
        results = await asyncio.gather(*(create() for _ in range(size)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, ApiError):
                raise result
        failures = [r for r in results if isinstance(r, ApiError)]
        done += size - len(failures)
        if failures:
            return done, failures[0]
        batch *= 2
    return done, None


class ReplicaSetController(Controller):
    name = "replicaset-controller"

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
        self.expectations = Expectations()
        self._sets = informers[resources.REPLICASETS]
        self._pods = informers[resources.PODS]
        self._sets.add_handler(_ReplicaSetEvents(self))
        self._pods.add_handler(_PodEvents(self))

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        rs = self._sets.get(namespace, name)
        if rs is None:
            self.expectations.forget(key)
            return
        selector = label_selectors.from_label_selector(rs.spec.selector)
        owned = await claim(self._client, rs, selector, self._pods.items(namespace))
        active = [p for p in owned if podutil.is_active(p)]
        failure: ApiError | None = None
        if self.expectations.satisfied(key) and not rs.metadata.HasField("deletion_timestamp"):
            failure = await self._manage_replicas(key, rs, active)
        now = self._clock()
        status = replica_set_status(rs, active, failure, now)
        await self._write_status(rs, status)
        ready, available = status.ready_replicas, status.available_replicas
        if failure is None and rs.spec.min_ready_seconds and ready != available:
            self.queue.add_after(key, rs.spec.min_ready_seconds)  # to count them available then
        if failure is not None:
            raise failure

    async def _manage_replicas(
        self, key: str, rs: apps_pb2.ReplicaSet, active: Sequence[pod_pb2.Pod]
    ) -> ApiError | None:
        diff = len(active) - rs.spec.replicas
        if diff < 0:
            count = min(-diff, BURST)
            self.expectations.expect_creations(key, count)

            async def create() -> None:
                created = await self._client.create(pod_from_template(rs))
                self._recorder.event(rs, NORMAL, "SuccessfulCreate", f"Created pod: {created.metadata.name}")

            done, failure = await slow_start(count, create)
            for _ in range(count - done):  # the pods never created will never be observed
                self.expectations.creation_observed(key)
            if failure is not None:
                self._recorder.event(rs, WARNING, "FailedCreate", f"Error creating: {failure}")
            return failure
        if diff > 0:
            doomed = deletion_order(active)[: min(diff, BURST)]
            self.expectations.expect_deletions(
                key, [key_of(p.metadata.namespace, p.metadata.name) for p in doomed]
            )
            results = await asyncio.gather(*(self._delete(key, rs, p) for p in doomed))
            return next((r for r in results if r is not None), None)
        return None

    async def _delete(self, key: str, rs: apps_pb2.ReplicaSet, pod: pod_pb2.Pod) -> ApiError | None:
        try:
            await self._client.delete(
                resources.PODS, pod.metadata.namespace, pod.metadata.name, uid=pod.metadata.uid
            )
        except NotFound:
            self.expectations.deletion_observed(key, key_of(pod.metadata.namespace, pod.metadata.name))
            return None
        except ApiError as err:
            self.expectations.deletion_observed(key, key_of(pod.metadata.namespace, pod.metadata.name))
            self._recorder.event(rs, WARNING, "FailedDelete", f"Error deleting: {err}")
            return err
        self._recorder.event(rs, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}")
        return None

    async def _write_status(self, rs: apps_pb2.ReplicaSet, status: apps_pb2.ReplicaSetStatus) -> None:
        if rs.status == status:
            return
        updated = apps_pb2.ReplicaSet()
        updated.CopyFrom(rs)
        updated.status.CopyFrom(status)
        await self._client.update_status(updated)  # a Conflict retries the sync with the newer object

    # -- events ------------------------------------------------------------------------------------

    def enqueue(self, obj: Any) -> None:
        self.queue.add(key_of(obj.metadata.namespace, obj.metadata.name))

    def owner_of(self, pod: pod_pb2.Pod) -> apps_pb2.ReplicaSet | None:
        ref = controller_of(pod)
        if ref is None or ref.kind != "ReplicaSet":
            return None
        rs = self._sets.get(pod.metadata.namespace, ref.name)
        return rs if rs is not None and rs.metadata.uid == ref.uid else None

    def sets_selecting(self, pod: pod_pb2.Pod) -> list[apps_pb2.ReplicaSet]:
        """The ReplicaSets of the pod's namespace whose selector matches it (adoption candidates)."""
        return [
            rs
            for rs in self._sets.items(pod.metadata.namespace)
            if label_selectors.from_label_selector(rs.spec.selector).matches(pod.metadata.labels)
        ]


def replica_set_status(
    rs: apps_pb2.ReplicaSet, active: Sequence[pod_pb2.Pod], failure: ApiError | None, now: float
) -> apps_pb2.ReplicaSetStatus:
    """The status `rs` should report for its active pods (pure)."""
    template = label_selectors.from_map(rs.spec.template.metadata.labels)
    status = apps_pb2.ReplicaSetStatus(
        replicas=len(active),
        fully_labeled_replicas=sum(1 for p in active if template.matches(p.metadata.labels)),
        ready_replicas=sum(1 for p in active if podutil.is_ready(p)),
        available_replicas=sum(1 for p in active if podutil.is_available(p, rs.spec.min_ready_seconds, now)),
        observed_generation=rs.metadata.generation,
        conditions=rs.status.conditions,
    )
    if failure is None:
        kept = [c for c in status.conditions if c.type != "ReplicaFailure"]
        del status.conditions[:]
        status.conditions.extend(kept)
    else:
        reason = "FailedCreate" if len(active) < rs.spec.replicas else "FailedDelete"
        conditions.set_condition(
            status.conditions, "ReplicaFailure", "True", Timestamp(seconds=int(now)), reason, str(failure)
        )
    return status


class _ReplicaSetEvents:
    def __init__(self, controller: ReplicaSetController):
        self._c = controller

    def on_add(self, rs: apps_pb2.ReplicaSet) -> None:
        self._c.enqueue(rs)

    def on_update(self, old: apps_pb2.ReplicaSet, new: apps_pb2.ReplicaSet) -> None:
        self._c.enqueue(new)

    def on_delete(self, rs: apps_pb2.ReplicaSet) -> None:
        self._c.expectations.forget(key_of(rs.metadata.namespace, rs.metadata.name))
        self._c.enqueue(rs)


class _PodEvents:
    """Pod changes, turned into the keys of the ReplicaSets they concern."""

    def __init__(self, controller: ReplicaSetController):
        self._c = controller

    def on_add(self, pod: pod_pb2.Pod) -> None:
        if pod.metadata.HasField("deletion_timestamp"):
            self.on_delete(pod)
            return
        owner = self._c.owner_of(pod)
        if owner is not None:
            self._c.expectations.creation_observed(key_of(owner.metadata.namespace, owner.metadata.name))
            self._c.enqueue(owner)
        elif controller_of(pod) is None:
            for rs in self._c.sets_selecting(pod):
                self._c.enqueue(rs)

    def on_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if new.metadata.HasField("deletion_timestamp") and not old.metadata.HasField("deletion_timestamp"):
            self.on_delete(new)  # a graceful deletion started: it no longer counts
            return
        old_owner, new_owner = controller_of(old), controller_of(new)
        if old_owner is not None and (new_owner is None or old_owner.uid != new_owner.uid):
            previous = self._c.owner_of(old)
            if previous is not None:
                self._c.enqueue(previous)
        owner = self._c.owner_of(new)
        if owner is not None:
            self._c.enqueue(owner)
        elif new_owner is None:
            for rs in self._c.sets_selecting(new):
                self._c.enqueue(rs)

    def on_delete(self, pod: pod_pb2.Pod) -> None:
        owner = self._c.owner_of(pod)
        if owner is not None:
            key = key_of(owner.metadata.namespace, owner.metadata.name)
            self._c.expectations.deletion_observed(key, key_of(pod.metadata.namespace, pod.metadata.name))
            self._c.enqueue(owner)
