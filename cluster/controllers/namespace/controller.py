"""The namespace controller: a terminating namespace is emptied, then released.

When a Namespace has a deletionTimestamp (its phase is Terminating, and the API server refuses
new objects in it), every namespaced object in it is deleted (pods gracefully, through their
kubelets). While anything is left it checks again every `recheck` seconds; once nothing is, it
removes the `kubernetes` finalizer from the namespace's spec and the API server deletes it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from cluster.api import resources
from cluster.api.wellknown import NAMESPACE_FINALIZER
from cluster.client.api import ApiClient
from cluster.controllers.controller import Controller
from cluster.controllers.informers import SharedInformers
from cluster.errors import NotFound
from raykube.v1 import namespace_pb2

log = logging.getLogger(__name__)
NAMESPACED = tuple(r for r in resources.ALL if r.namespaced)


class NamespaceController(Controller):
    name = "namespace-controller"
    workers = 1

    def __init__(self, client: ApiClient, informers: SharedInformers, *, recheck: float = 2.0):
        super().__init__()
        self._client = client
        self._recheck = recheck
        self._namespaces = informers[resources.NAMESPACES]
        self._namespaces.add_handler(_Events(self))

    async def sync(self, key: str) -> None:
        namespace = self._namespaces.get("", key)
        if namespace is None or not namespace.metadata.HasField("deletion_timestamp"):
            return
        remaining = 0
        for resource in NAMESPACED:
            items, _ = await self._client.list(resource, key)
            remaining += len(items)
            for obj in items:
                if not obj.metadata.HasField("deletion_timestamp"):
                    await self._delete(resource, obj)
        if remaining:
            log.info("namespace %s: %d objects left to delete", key, remaining)
            self.queue.add_after(key, self._recheck)
            return
        if NAMESPACE_FINALIZER in namespace.spec.finalizers:
            released = namespace_pb2.Namespace()
            released.CopyFrom(namespace)
            kept = [f for f in released.spec.finalizers if f != NAMESPACE_FINALIZER]
            del released.spec.finalizers[:]
            released.spec.finalizers.extend(kept)
            await self._client.update(released)
            log.info("namespace %s is empty; released it", key)

    async def _delete(self, resource: resources.Resource[Any], obj: Any) -> None:
        with contextlib.suppress(NotFound):
            await self._client.delete(
                resource, obj.metadata.namespace, obj.metadata.name, uid=obj.metadata.uid
            )


class _Events:
    def __init__(self, controller: NamespaceController):
        self._c = controller

    def on_add(self, namespace: namespace_pb2.Namespace) -> None:
        if namespace.metadata.HasField("deletion_timestamp"):
            self._c.queue.add(namespace.metadata.name)

    def on_update(self, old: namespace_pb2.Namespace, new: namespace_pb2.Namespace) -> None:
        self.on_add(new)

    def on_delete(self, namespace: namespace_pb2.Namespace) -> None:
        pass
