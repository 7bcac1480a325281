"""The service account controller on a real API server: every namespace gets a `default`
ServiceAccount, which comes back if deleted."""

from __future__ import annotations

from pathlib import Path

from cluster.api import resources
from cluster.client.api import ApiClient
from raykube.v1 import namespace_pb2
from tests.controllers.test_workloads import get, run, until


def test_every_namespace_has_a_default_service_account(tmp_path: Path) -> None:
    async def scenario(admin: ApiClient) -> None:
        shop = namespace_pb2.Namespace(api_version="v1", kind="Namespace")
        shop.metadata.name = "shop"
        await admin.create(shop)
        for namespace in ("default", "kube-system", "shop"):
            await until(lambda ns=namespace: get(admin, resources.SERVICEACCOUNTS, "default", ns),
                        f"a default ServiceAccount in {namespace}")  # fmt: skip
        first = await get(admin, resources.SERVICEACCOUNTS, "default", "shop")
        await admin.delete(resources.SERVICEACCOUNTS, "shop", "default")

        async def replaced() -> bool:
            again = await get(admin, resources.SERVICEACCOUNTS, "default", "shop")
            return again is not None and again.metadata.uid != first.metadata.uid

        await until(replaced, "the deleted default ServiceAccount made again")

    run(tmp_path, scenario)
