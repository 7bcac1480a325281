"""The garbage collector: dependents go with their owners (ownerReferences), as Kubernetes' does.

Tracked kinds: pods, replicasets, deployments, services, endpoints and endpointslices (every kind
that owns or is owned here). A work
item is one object; processing it:
  - an object being deleted with the `orphan` finalizer (propagationPolicy Orphan): its
    dependents lose their ownerReference to it, then the finalizer goes (and so the object);
  - one being deleted with `foregroundDeletion`: its dependents are deleted (foreground too), and
    once none is left the finalizer goes;
  - an object with owners: if none of them exists any more (checked against the API server, not
    only the cache, so a lagging watch never deletes anything), it is deleted (in the background:
    its own dependents follow the same way); references to owners that are gone are dropped
    when others remain; an owner being deleted in the foreground takes it along.
A deleted object brings its dependents and its owners (who may wait for it) into the queue.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from cluster.api import resources, wellknown
from cluster.client.api import ApiClient
from cluster.client.informer import Informer
from cluster.controllers.controller import Controller
from cluster.controllers.garbagecollector.dependents import Dependents
from cluster.controllers.informers import SharedInformers
from cluster.errors import BadRequest, Conflict, NotFound
from raykube.v1 import meta_pb2

log = logging.getLogger(__name__)
TRACKED: tuple[resources.Resource[Any], ...] = (
    resources.PODS, resources.REPLICASETS, resources.DEPLOYMENTS,
    resources.SERVICES, resources.ENDPOINTS, resources.ENDPOINTSLICES,
)  # fmt: skip
_BY_KIND = {r.kind: r for r in TRACKED}


def item(resource: resources.Resource[Any], obj: Any) -> str:
    return f"{resource.name}:{obj.metadata.namespace}/{obj.metadata.name}"


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, client: ApiClient, informers: SharedInformers):
        super().__init__()
        self._client = client
        self._informers: dict[str, Informer[Any]] = {r.name: informers[r] for r in TRACKED}
        self.graph = Dependents()  # kept by _Events, below
        for resource in TRACKED:
            self._informers[resource.name].add_handler(_Events(self, resource))

    # -- lookups -----------------------------------------------------------------------------------

    def _cached(self, resource: resources.Resource[Any], namespace: str, name: str) -> Any | None:
        return self._informers[resource.name].get(namespace if resource.namespaced else "", name)

    def dependents(self, owner: Any) -> list[tuple[resources.Resource[Any], Any]]:
        """The cached objects that name `owner` (in its namespace, if it has one)."""
        found = []
        owner_namespace = owner.metadata.namespace
        for name, namespace, dependent in self.graph.of(owner.metadata.uid):
            obj = self._informers[name].get(namespace, dependent)
            if obj is not None and (not owner_namespace or namespace == owner_namespace):
                found.append((resources.by_name(name), obj))
        return found

    async def _owner(self, namespace: str, ref: meta_pb2.OwnerReference) -> Any | None:
        """The owner `ref` names, if it still exists with that uid (asking the API server when the
        cache does not have it)."""
        resource = _BY_KIND.get(ref.kind)
        if resource is None:
            try:
                resource = resources.by_kind(ref.kind, ref.api_version)
            except BadRequest:  # an owner kind this API does not serve: it cannot exist
                return None
        namespace = namespace if resource.namespaced else ""
        found = self._cached(resource, namespace, ref.name) if resource in TRACKED else None
        if found is None:
            try:
                found = await self._client.get(resource, namespace, ref.name)
            except NotFound:
                return None
        return found if found.metadata.uid == ref.uid else None

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        namespace, _, name = rest.rpartition("/")
        resource = resources.by_name(kind)
        obj = self._cached(resource, namespace, name)
        if obj is None:
            return
        finalizers = obj.metadata.finalizers
        if obj.metadata.HasField("deletion_timestamp"):
            if wellknown.FINALIZER_ORPHAN in finalizers:
                await self._orphan_dependents(obj)
                await self._remove_finalizer(resource, obj, wellknown.FINALIZER_ORPHAN)
                return
            if wellknown.FINALIZER_FOREGROUND in finalizers:
                await self._delete_dependents_first(resource, obj)
                return
        if obj.metadata.owner_references:
            await self._check_owners(resource, obj)

    async def _orphan_dependents(self, owner: Any) -> None:
        for _, dependent in self.dependents(owner):
            changed = type(dependent)()
            changed.CopyFrom(dependent)
            kept = [r for r in changed.metadata.owner_references if r.uid != owner.metadata.uid]
            del changed.metadata.owner_references[:]
            changed.metadata.owner_references.extend(kept)
            with contextlib.suppress(NotFound):  # gone meanwhile: nothing to orphan
                await self._client.update(changed)

    async def _delete_dependents_first(self, resource: resources.Resource[Any], owner: Any) -> None:
        dependents = self.dependents(owner)
        for dep_resource, dependent in dependents:
            if not dependent.metadata.HasField("deletion_timestamp"):
                await self._delete(dep_resource, dependent, "Foreground")
        if not dependents:
            await self._remove_finalizer(resource, owner, wellknown.FINALIZER_FOREGROUND)

    async def _check_owners(self, resource: resources.Resource[Any], obj: Any) -> None:
        namespace = obj.metadata.namespace
        present, absent, foreground = [], [], False
        for ref in obj.metadata.owner_references:
            owner = await self._owner(namespace, ref)
            if owner is None:
                absent.append(ref)
            else:
                present.append(ref)
                deleting = owner.metadata.HasField("deletion_timestamp")
                foreground |= deleting and wellknown.FINALIZER_FOREGROUND in owner.metadata.finalizers
        if foreground and not obj.metadata.HasField("deletion_timestamp"):
            await self._delete(resource, obj, "Foreground")
        elif not present:
            if not obj.metadata.HasField("deletion_timestamp"):
                log.info(
                    "%s %s/%s: its owners are gone; deleting it", resource.kind, namespace, obj.metadata.name
                )
                await self._delete(resource, obj, "Background")
        elif absent:
            changed = type(obj)()
            changed.CopyFrom(obj)
            gone = {ref.uid for ref in absent}
            kept = [r for r in changed.metadata.owner_references if r.uid not in gone]
            del changed.metadata.owner_references[:]
            changed.metadata.owner_references.extend(kept)
            await self._client.update(changed)

    async def _delete(self, resource: resources.Resource[Any], obj: Any, policy: str) -> None:
        with contextlib.suppress(NotFound, Conflict):  # gone or replaced meanwhile
            meta = obj.metadata
            await self._client.delete(
                resource, meta.namespace, meta.name, uid=meta.uid, propagation_policy=policy
            )

    async def _remove_finalizer(self, resource: resources.Resource[Any], obj: Any, finalizer: str) -> None:
        changed = type(obj)()
        changed.CopyFrom(obj)
        kept = [f for f in changed.metadata.finalizers if f != finalizer]
        del changed.metadata.finalizers[:]
        changed.metadata.finalizers.extend(kept)
        with contextlib.suppress(NotFound):
            await self._client.update(changed)  # the registry deletes it once no finalizer is left


class _Events:
    def __init__(self, collector: GarbageCollector, resource: resources.Resource[Any]):
        self._c = collector
        self._resource = resource

    def _interesting(self, obj: Any) -> bool:
        meta = obj.metadata
        return bool(meta.owner_references) or (
            meta.HasField("deletion_timestamp")
            and (
                wellknown.FINALIZER_ORPHAN in meta.finalizers
                or wellknown.FINALIZER_FOREGROUND in meta.finalizers
            )
        )

    def on_add(self, obj: Any) -> None:
        self._c.graph.changed(self._resource.name, None, obj)
        self._queue_if_interesting(obj)

    def on_update(self, old: Any, new: Any) -> None:
        self._c.graph.changed(self._resource.name, old, new)
        self._queue_if_interesting(new)

    def _queue_if_interesting(self, obj: Any) -> None:
        if self._interesting(obj):
            self._c.queue.add(item(self._resource, obj))

    def on_delete(self, obj: Any) -> None:
        self._c.graph.changed(self._resource.name, obj, None)
        for resource, dependent in self._c.dependents(obj):
            self._c.queue.add(item(resource, dependent))
        for ref in obj.metadata.owner_references:  # an owner deleting in the foreground may be done now
            owner_resource = _BY_KIND.get(ref.kind)
            if owner_resource is not None:
                owner = self._c._cached(owner_resource, obj.metadata.namespace, ref.name)
                if owner is not None and owner.metadata.HasField("deletion_timestamp"):
                    self._c.queue.add(item(owner_resource, owner))
