"""The node's heartbeat Lease: `kube-node-lease/<node>`, renewed every 10 s (Kubernetes' node lease).

Cheaper than the Node's status as a heartbeat (a small object, written often), it is what the node
lifecycle controller watches first to tell a live node from a dead one. Failures are logged and
retried at the next period.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from cluster.api import resources, wellknown
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Conflict, NotFound
from raykube.v1 import coordination_pb2

log = logging.getLogger(__name__)
RENEW_PERIOD = 10.0
LEASE_DURATION = 40


class NodeLease:
    def __init__(
        self,
        client: ApiClient,
        node_name: str,
        *,
        period: float = RENEW_PERIOD,
        clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._node = node_name
        self._period = period
        self._clock = clock
        self._lease: coordination_pb2.Lease | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.renew()
            except ApiError as err:
                log.warning("node %s lease not renewed: %s", self._node, err)
            await asyncio.sleep(self._period)

    async def renew(self) -> None:
        """One write per renewal: the Lease last written is updated again (as the kubelet's lease
        controller does); it is read first only when it is not known yet or someone else changed it."""
        if self._lease is not None:
            try:
                self._lease = await self._client.update(self._stamped(self._lease))
                return
            except (Conflict, NotFound):
                self._lease = None  # changed or removed by someone else: read it again
        try:
            current = await self._client.get(resources.LEASES, wellknown.NAMESPACE_NODE_LEASE, self._node)
        except NotFound:
            lease = coordination_pb2.Lease()
            lease.metadata.name, lease.metadata.namespace = self._node, wellknown.NAMESPACE_NODE_LEASE
            lease.spec.lease_duration_seconds = LEASE_DURATION
            self._lease = await self._client.create(self._stamped(lease))
            return
        self._lease = await self._client.update(self._stamped(current))

    def _stamped(self, lease: coordination_pb2.Lease) -> coordination_pb2.Lease:
        lease.spec.holder_identity = self._node
        lease.spec.renew_time.FromNanoseconds(int(self._clock() * 1e9))
        return lease
