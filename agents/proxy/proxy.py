"""The service proxy of one host: Services and EndpointSlices in, nftables rules and DNS records out.

Level-triggered, like the kubelet: informers on Services and EndpointSlices only mark the state
dirty; one sync loop renders the whole ruleset from the informers' caches (ruleset.py) and applies
it in one nftables transaction when it differs from what was last applied, at most every
`min_interval` seconds (a burst of endpoint changes costs one transaction). A restarted proxy
first lists what the table holds, then replaces it in one transaction once its informers have
synced: rules in force stay in force meanwhile. A refused transaction (the table changed under
us: simulated hosts on one machine share it) is rendered again from a fresh listing, once. The
DNS records (dns.py) come from the same caches. `remove()` deletes the table (`raykube down`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

from agents.proxy import ruleset
from agents.proxy.dns import DnsResponder
from agents.proxy.nft import Backend, NftError
from cluster.api import resources
from cluster.client.api import ApiClient
from cluster.client.informer import Informer
from cluster.supervision import run_forever
from raykube.v1 import discovery_pb2, service_pb2

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProxyConfig:
    dns_ip: str = "10.96.0.10"  # the kube-dns ClusterIP, redirected to this host's responder
    dns_port: int = 10053  # where the responder listens on this host
    domain: str = "cluster.local"
    min_interval: float = 0.05  # seconds between two syncs, at least


class Proxy:
    def __init__(self, client: ApiClient, backend: Backend, config: ProxyConfig | None = None):
        self._backend = backend
        self.config = config or ProxyConfig()
        self._dirty = asyncio.Event()
        handler = _Dirty(self._dirty)
        self.services: Informer[service_pb2.Service] = Informer(client, resources.SERVICES, handler)
        self.slices: Informer[discovery_pb2.EndpointSlice] = Informer(
            client, resources.ENDPOINTSLICES, handler
        )
        self.dns = DnsResponder(lambda: self.records, port=self.config.dns_port, domain=self.config.domain)
        self.records: dict[str, list[str]] = {}
        self.synced = asyncio.Event()  # the first full ruleset is in force
        self.sync_seconds: list[float] = []  # how long each transaction took, for benchmarks
        self._applied: list[ruleset.ServicePort] | None = None
        self._existing = ruleset.Existing()

    async def run(self) -> None:
        """Keep the rules and records in step with the API until cancelled."""
        self._existing = await asyncio.to_thread(self._backend.existing)
        async with asyncio.TaskGroup() as tasks:
            run_forever(tasks, "proxy service informer", self.services.run())
            run_forever(tasks, "proxy endpointslice informer", self.slices.run())
            run_forever(tasks, "proxy dns", self.dns.run())
            await self.services.synced.wait()
            await self.slices.synced.wait()
            run_forever(tasks, "proxy sync", self._sync_loop())

    async def _sync_loop(self) -> None:
        self._dirty.set()
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            await self.sync()
            await asyncio.sleep(self.config.min_interval)

    async def sync(self) -> None:
        services, slices = self.services.items(), self.slices.items()
        self.records = dns_records(services, slices, self.config.domain)
        ports = ruleset.service_ports(services, slices)
        if ports == self._applied:
            return
        dns = (self.config.dns_ip, self.config.dns_port)
        commands = ruleset.render(ports, self._existing, dns)
        started = time.monotonic()
        try:
            await asyncio.to_thread(self._backend.apply, commands)
        except NftError as refused:  # the table changed under us (another proxy of this machine): re-read it
            log.warning("proxy: %s; reading the table again", refused)
            self._existing = await asyncio.to_thread(self._backend.existing)
            commands = ruleset.render(ports, self._existing, dns)
            await asyncio.to_thread(self._backend.apply, commands)  # refused again: fail loudly
        self.sync_seconds.append(time.monotonic() - started)
        self._applied, self._existing = ports, _after(commands)
        self.synced.set()
        log.info("proxy: %d service ports in force (%.1f ms)", len(ports), self.sync_seconds[-1] * 1000)

    async def remove(self) -> bool:
        """Delete the table (the host leaves the cluster for good); whether there was one."""
        return await asyncio.to_thread(self._backend.delete_table)


def _after(commands: list[ruleset.Command]) -> ruleset.Existing:
    """The chains and sets a rendered transaction leaves in the table."""
    added = [c["add"] for c in commands if "add" in c]
    return ruleset.Existing(
        chains=frozenset(b["chain"]["name"] for b in added if "chain" in b),
        sets=frozenset(b[k]["name"] for b in added for k in ("set", "map") if k in b),
    )


def dns_records(
    services: list[service_pb2.Service], slices: list[discovery_pb2.EndpointSlice], domain: str
) -> dict[str, list[str]]:
    """<service>.<namespace>.svc.<domain> -> its ClusterIP, or a headless one's ready pod IPs (pure)."""
    ready: dict[tuple[str, str], list[str]] = {}
    for endpoint_slice in slices:
        key = (
            endpoint_slice.metadata.namespace,
            endpoint_slice.metadata.labels.get(ruleset.SERVICE_NAME_LABEL, ""),
        )
        ready.setdefault(key, []).extend(
            a for e in endpoint_slice.endpoints if e.conditions.ready for a in e.addresses
        )
    records = {}
    for service in services:
        meta = service.metadata
        name = f"{meta.name}.{meta.namespace}.svc.{domain}".lower()
        if service.spec.cluster_ip == "None":
            records[name] = sorted(set(ready.get((meta.namespace, meta.name), [])))
        elif service.spec.cluster_ip:
            records[name] = [service.spec.cluster_ip]
    return records


class _Dirty:
    def __init__(self, dirty: asyncio.Event):
        self._dirty = dirty

    def on_add(self, obj: Any) -> None:
        self._dirty.set()

    def on_update(self, old: Any, new: Any) -> None:
        self._dirty.set()

    def on_delete(self, obj: Any) -> None:
        self._dirty.set()
