"""The node Lease on a real store and API server: one write per renewal, and a Lease someone
else changed or removed is read or made again rather than left stale."""

import asyncio
from pathlib import Path

from agents.kubelet.node_lease import NodeLease
from cluster.api import resources, wellknown
from tests.harness import control_plane


def test_renewals_write_once_and_recover_from_changes_made_by_others(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as client:
            now = [1000.0]
            lease = NodeLease(client, "n1", clock=lambda: now[0])

            async def stored() -> tuple[int, float]:
                obj = await client.get(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, "n1")
                return int(obj.metadata.resource_version), obj.spec.renew_time.ToNanoseconds() / 1e9

            await lease.renew()  # made
            first, renewed = await stored()
            assert renewed == 1000.0
            now[0] = 1010.0
            await lease.renew()
            second, renewed = await stored()
            assert renewed == 1010.0 and second > first
            _, head = await client.list(resources.PODS)  # nothing else was written: one write per renewal
            assert int(head) == second

            other = await client.get(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, "n1")
            other.spec.holder_identity = "someone-else"
            await client.update(other)  # the next renewal's write conflicts: it reads and writes again
            now[0] = 1020.0
            await lease.renew()
            _, renewed = await stored()
            current = await client.get(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, "n1")
            assert renewed == 1020.0 and current.spec.holder_identity == "n1"

            await client.delete(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, "n1")
            now[0] = 1030.0
            await lease.renew()  # gone: made anew
            _, renewed = await stored()
            assert renewed == 1030.0

    asyncio.run(scenario())
