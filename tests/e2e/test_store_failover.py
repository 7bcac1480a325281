"""The store's leader dies under a steady write load through the API server: a new leader serves
within a few election timeouts, the API server keeps working unchanged, no acknowledged write is lost.

The cluster is the real one: three store replicas as Ray actors (store-0..2), the API server
failing over between them. The leader's actor process is killed with SIGKILL; Ray restarts it
and it rejoins from its disk.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cluster.api import codec, resources
from cluster.client import config as client_config
from cluster.client.api import ApiClient
from cluster.errors import AlreadyExists, ApiError
from raykube.v1 import pod_pb2
from tests.e2e.cluster import Cluster
from tests.polling import eventually

pytestmark = pytest.mark.e2e
ELECTION_TIMEOUT = 1.0  # 10 ticks of 100 ms (the store's defaults)
WRITERS = (
    4  # a steady load: concurrent clients, so one request stranded on the dead leader stalls no one else
)


@pytest.fixture(scope="module")
def replicas(cluster: Cluster) -> Iterator[dict[str, dict[str, Any]]]:
    """store name -> its actor's info (address, pid), through Ray."""
    import ray

    with cluster.ray_driver() as actor:
        yield {n: ray.get(actor(n).info.remote(), timeout=30) for n in ("store-0", "store-1", "store-2")}


def leader_of(cluster: Cluster, replicas: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """(name, endpoint) of the replica etcd's own status call reports as leader."""
    endpoints = ",".join(r["address"] for r in replicas.values())
    statuses = json.loads(
        cluster.etcdctl(f"--endpoints={endpoints}", "endpoint", "status", "-w", "json").stdout
    )
    [endpoint] = [
        s["Endpoint"] for s in statuses if s["Status"]["leader"] == s["Status"]["header"]["member_id"]
    ]
    return next(name for name, r in replicas.items() if r["address"] == endpoint), endpoint


def unschedulable_pod(name: str) -> pod_pb2.Pod:
    return codec.decode({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"load": "steady"}},
                         "spec": {"schedulerName": "none", "containers": [{"name": "c", "image": "x:1"}]}}, pod_pb2.Pod)  # fmt: skip


def test_killing_the_store_leader_loses_no_acknowledged_write(
    cluster: Cluster, replicas: dict[str, dict[str, Any]]
) -> None:
    leader, leader_endpoint = leader_of(cluster, replicas)
    survivors = ",".join(r["address"] for n, r in replicas.items() if n != leader)
    config = client_config.load(cluster.home)
    acknowledged: list[str] = []
    unknown: list[str] = []
    timeline: list[tuple[float, float, bool]] = []  # (invoked, completed, acknowledged)

    async def writer(client: ApiClient, index: int, stop_at: float, warmed: asyncio.Event) -> None:
        i = 0
        while time.monotonic() < stop_at:
            name = f"steady-{index}-{i:04d}"
            i += 1
            invoked = time.monotonic()
            try:
                await client.create(unschedulable_pod(name))
            except AlreadyExists:  # a retried create that had happened after all
                acknowledged.append(name)
            except ApiError:
                unknown.append(name)  # e.g. the store's request timed out: may or may not have happened
                timeline.append((invoked, time.monotonic(), False))
                continue
            else:
                acknowledged.append(name)
            timeline.append((invoked, time.monotonic(), True))
            if len(acknowledged) >= 40:
                warmed.set()

    async def scenario() -> float:
        warmed = asyncio.Event()
        stop_at = time.monotonic() + 25
        async with config.client(timeout=15) as client:
            writers = [asyncio.create_task(writer(client, w, stop_at, warmed)) for w in range(WRITERS)]
            await warmed.wait()
            os.kill(replicas[leader]["pid"], signal.SIGKILL)
            killed_at = time.monotonic()
            await asyncio.gather(*writers)
        return killed_at

    killed_at = asyncio.run(scenario())

    # A new leader among the survivors, within a few election timeouts of the kill.
    new_leader = eventually(lambda: _leader_among(cluster, survivors), timeout=10, what="a new store leader")
    assert new_leader != leader_endpoint
    # Served by the new leader: the first acknowledged write that was sent after the kill.
    resumed = min(done for invoked, done, ok in timeline if ok and invoked > killed_at)
    assert resumed - killed_at < 8 + 5 * ELECTION_TIMEOUT, (
        f"writes resumed {resumed - killed_at:.1f}s after the kill"
    )
    print(f"\nleader {leader} killed; API writes resumed after {resumed - killed_at:.2f}s; "
          f"{len(acknowledged)} acknowledged, {len(unknown)} with unknown outcome")  # fmt: skip
    writes_after = [done for _, done, ok in timeline if ok and done > resumed]
    assert len(writes_after) > 10, "the API server kept working after the failover"

    # Every acknowledged write is in the store, read through the API server and from each survivor.
    listed = {p.metadata.name for p in asyncio.run(_list(config))}
    assert set(acknowledged) <= listed
    assert listed <= set(acknowledged) | set(unknown)
    for endpoint in survivors.split(","):
        keys = cluster.etcdctl(
            f"--endpoints={endpoint}", "get", "--prefix", "/registry/pods/default/steady-", "--keys-only"
        ).stdout.split()
        assert {k.rsplit("/", 1)[-1] for k in keys} == listed

    # The killed replica comes back (Ray restarts it) and catches up.
    restarted = replicas[leader]["address"]
    eventually(
        lambda: _count(cluster, restarted) == len(listed),
        timeout=60,
        what="the restarted replica to catch up",
    )


def _leader_among(cluster: Cluster, endpoints: str) -> str | None:
    try:
        statuses = json.loads(
            cluster.etcdctl(f"--endpoints={endpoints}", "endpoint", "status", "-w", "json").stdout
        )
    except subprocess.CalledProcessError:
        return None
    leaders = {s["Status"]["leader"] for s in statuses}
    mine = [s["Endpoint"] for s in statuses if s["Status"]["leader"] == s["Status"]["header"]["member_id"]]
    return mine[0] if len(leaders) == 1 and mine else None


def _count(cluster: Cluster, endpoint: str) -> int:
    """How many of the test's pods `endpoint` has, by its own (serializable) read; -1 if it is down."""
    try:
        out = cluster.etcdctl(f"--endpoints={endpoint}", "--command-timeout=2s", "get", "--prefix",
                      "/registry/pods/default/steady-", "--keys-only", "--consistency=s").stdout  # fmt: skip
    except subprocess.CalledProcessError:
        return -1
    return len(out.split())


async def _list(config: client_config.ClientConfig) -> list[Any]:
    async with config.client() as client:
        items, _ = await client.list(resources.PODS, "default", label_selector="load=steady")
        return items
