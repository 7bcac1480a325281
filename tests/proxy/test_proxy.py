"""The Proxy on a real API server, in a network namespace of its own: Services and EndpointSlices
written through the API become routes and names within a sync, a restarted proxy keeps the
rules in force until it replaces them, two proxies can share the table, and `remove()` leaves
nothing behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from dnslib import DNSRecord

from agents.proxy.nft import Nftables
from agents.proxy.proxy import Proxy, ProxyConfig
from cluster.api import resources
from cluster.client.api import ApiClient
from tests.harness import control_plane
from tests.proxy.backends import ask, serving
from tests.proxy.netns import run_isolated
from tests.proxy.objects import endpoint_slice, service
from tests.proxy.test_nft import POD_A, POD_B

CONFIG = ProxyConfig(dns_port=10053)


@contextlib.asynccontextmanager
async def running(client: ApiClient) -> AsyncIterator[Proxy]:
    proxy = Proxy(client, Nftables(), CONFIG)
    task = asyncio.create_task(proxy.run())
    try:
        await asyncio.wait_for(proxy.synced.wait(), 10)
        yield proxy
        if task.done():
            task.result()  # it failed: say why
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def answered_by(address: str) -> str:
    try:
        return await asyncio.to_thread(ask, address, 80, 1.0)
    except OSError as failed:
        return type(failed).__name__


def resolve(name: str) -> list[str]:
    reply = DNSRecord.question(name).send("10.96.0.10", 53, timeout=2)  # the kube-dns ClusterIP
    return sorted(str(rr.rdata) for rr in DNSRecord.parse(reply).rr)


def _scenario(data_dir: str) -> dict[str, Any]:
    async def main() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with control_plane(Path(data_dir)) as plane, plane.client() as admin, \
                plane.client("proxy-token") as proxier:  # fmt: skip
            web = await admin.create(service("web", "", ("http", 80, 0)))
            ip = seen["ip"] = web.spec.cluster_ip
            await admin.create(endpoint_slice("web", "http", 8080, [POD_A]))
            async with running(proxier) as proxy:
                seen["first"] = await answered_by(ip)
                seen["names"] = await asyncio.to_thread(resolve, "web.default.svc.cluster.local")

                def move(obj: object) -> None:
                    obj.endpoints[0].addresses[0] = POD_B  # type: ignore[attr-defined]

                await admin.modify(resources.ENDPOINTSLICES, "default", "web-1", move)
                await until(lambda: _answers(ip, {POD_B}))
                seen["moved"] = await answered_by(ip)
            seen["while_restarting"] = await answered_by(ip)  # no proxy: the rules stay in force
            # Two proxies on one table, as two simulated hosts of one machine: whichever deletes the
            # Service's chains second finds them gone, reads the table again and carries on.
            async with running(proxier) as proxy, running(proxier) as twin:
                seen["restarted"] = await answered_by(ip)
                syncs = len(proxy.sync_seconds), len(twin.sync_seconds)
                await admin.delete(resources.SERVICES, "default", "web")
                await until(lambda: _answers(ip, {POD_A, POD_B}, negate=True))
                seen["deleted"] = await answered_by(ip)
                await until(lambda: _synced_since(syncs, proxy, twin))
                seen["removed"] = await proxy.remove()
            seen["left"] = Nftables().existing()
        return seen

    with serving([POD_A, POD_B], 8080):
        return asyncio.run(main())


async def _synced_since(syncs: tuple[int, int], *proxies: Proxy) -> bool:
    return all(len(p.sync_seconds) > n for n, p in zip(syncs, proxies, strict=True))


async def _answers(address: str, backends: set[str], negate: bool = False) -> bool:
    return (await answered_by(address) in backends) != negate


def test_services_become_routes_and_names_and_go_with_their_service(tmp_path: Path) -> None:
    seen = run_isolated(_scenario, str(tmp_path), timeout=90)
    assert (seen["first"], seen["moved"], seen["while_restarting"], seen["restarted"]) == (
        POD_A,
        POD_B,
        POD_B,
        POD_B,
    )
    assert seen["names"] == [seen["ip"]]
    assert seen["deleted"] in ("TimeoutError", "OSError")  # not routed any more: lost on the default route
    assert seen["removed"] is True and not seen["left"].chains
