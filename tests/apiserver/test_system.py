"""What the API server makes and keeps on every start: bootstrap roles reconciled."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cluster.api import resources
from tests.harness import control_plane


def test_a_restarted_api_server_gives_bootstrap_roles_the_rules_they_lack(tmp_path: Path) -> None:
    """A cluster made before the scheduler could preempt gets `delete pods` for it on the next
    start (rules an admin added stay); a role marked autoupdate=false is left alone."""

    async def older_cluster() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            for name in ("system:kube-scheduler", "system:node"):
                role = await admin.get(resources.CLUSTERROLES, "", name)
                kept = [r for r in role.rules if list(r.verbs) != ["delete"]]
                del role.rules[:]
                role.rules.extend(kept)
                role.rules.add(verbs=["get"], api_groups=[""], resources=["configmaps"])  # an admin's
                if name == "system:node":
                    role.metadata.annotations["rbac.authorization.kubernetes.io/autoupdate"] = "false"
                await admin.update(role)

    async def after_restart() -> tuple[list[list[str]], list[list[str]]]:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            scheduler = await admin.get(resources.CLUSTERROLES, "", "system:kube-scheduler")
            node = await admin.get(resources.CLUSTERROLES, "", "system:node")
            return [list(r.verbs) for r in scheduler.rules], [list(r.verbs) for r in node.rules]

    asyncio.run(older_cluster())
    scheduler_verbs, node_verbs = asyncio.run(after_restart())
    assert ["delete"] in scheduler_verbs and ["get"] in scheduler_verbs  # restored, and the admin's kept
    assert ["delete"] not in node_verbs  # autoupdate=false: as the admin left it
