"""The service account controller: every namespace that is not terminating has a `default`
ServiceAccount, the identity its pods run as unless they name another (re-created if deleted)."""

from __future__ import annotations

import contextlib
from typing import Any

from cluster.api import resources
from cluster.client.api import ApiClient
from cluster.controllers.controller import Controller
from cluster.controllers.informers import SharedInformers
from cluster.errors import AlreadyExists, NotFound
from raykube.v1 import serviceaccount_pb2

DEFAULT = "default"


class ServiceAccountController(Controller):
    name = "serviceaccount-controller"
    workers = 1

    def __init__(self, client: ApiClient, informers: SharedInformers):
        super().__init__()
        self._client = client
        self._namespaces = informers[resources.NAMESPACES]
        self._accounts = informers[resources.SERVICEACCOUNTS]
        self._namespaces.add_handler(_Enqueue(self, lambda obj: obj.metadata.name))
        self._accounts.add_handler(_Enqueue(self, lambda obj: obj.metadata.namespace))

    async def sync(self, key: str) -> None:
        namespace = self._namespaces.get("", key)
        if namespace is None or namespace.metadata.HasField("deletion_timestamp"):
            return
        if self._accounts.get(key, DEFAULT) is not None:
            return
        account = serviceaccount_pb2.ServiceAccount(api_version="v1", kind="ServiceAccount")
        account.metadata.name, account.metadata.namespace = DEFAULT, key
        with contextlib.suppress(AlreadyExists, NotFound):  # made meanwhile; or the namespace went
            await self._client.create(account)


class _Enqueue:
    def __init__(self, controller: ServiceAccountController, key: Any):
        self._c, self._key = controller, key

    def on_add(self, obj: Any) -> None:
        self._c.queue.add(self._key(obj))

    def on_update(self, old: Any, new: Any) -> None:
        self._c.queue.add(self._key(new))

    def on_delete(self, obj: Any) -> None:
        self._c.queue.add(self._key(obj))
