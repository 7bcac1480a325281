"""Proxy sync time for 10 / 100 / 1,000 Services x 10 endpoints, next to `nft -f` of the same ruleset.

Runs inside a network namespace of its own, so it never touches the host's rules (or a cluster's):
benchmarks.services starts it with `unshare --net` and reads its JSON result from stdout; progress
goes to stderr. Measured per size, in this process:
  - first sync: Services and EndpointSlices -> what to route -> one transaction, into an empty table
    (what a proxy does after it starts), through libnftables as the proxy does it;
  - resync: one endpoint of one Service changes, the whole table is rewritten (the steady state);
  - baseline: `nft -f` of the same ruleset in nft's own syntax (`nft list table` of the first sync),
    loaded into an empty table by the nft command, as an operator would load a saved ruleset.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from agents.proxy.nft import Nftables
from agents.proxy.ruleset import SERVICE_NAME_LABEL, TABLE, Existing, render, service_ports
from raykube.v1 import discovery_pb2, service_pb2

ENDPOINTS = 10
REPEATS = 5


def objects(count: int) -> tuple[list[service_pb2.Service], list[discovery_pb2.EndpointSlice]]:
    services, slices = [], []
    for i in range(count):
        service = service_pb2.Service()
        service.metadata.name, service.metadata.namespace = f"svc-{i}", "default"
        service.spec.cluster_ip = f"10.96.{i // 250 + 1}.{i % 250 + 1}"
        service.spec.ports.add(name="http", protocol="TCP", port=80, target_port="8080")
        endpoint_slice = discovery_pb2.EndpointSlice(address_type="IPv4")
        endpoint_slice.metadata.name, endpoint_slice.metadata.namespace = f"svc-{i}-1", "default"
        endpoint_slice.metadata.labels[SERVICE_NAME_LABEL] = service.metadata.name
        endpoint_slice.ports.add(name="http", protocol="TCP", port=8080)
        for j in range(ENDPOINTS):
            n = i * ENDPOINTS + j
            endpoint_slice.endpoints.add(
                addresses=[f"10.244.{n // 250}.{n % 250 + 1}"]
            ).conditions.ready = True
        services.append(service)
        slices.append(endpoint_slice)
    return services, slices


def sync(nft: Nftables, services: list[Any], slices: list[Any], existing: Existing) -> tuple[float, int]:
    """What Proxy.sync does, timed: seconds, and how many rules the transaction adds."""
    started = time.perf_counter()
    commands = render(service_ports(services, slices), existing)
    nft.apply(commands)
    return time.perf_counter() - started, sum(1 for c in commands if "rule" in c.get("add", {}))


def nft_load_seconds(text: str) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".nft") as ruleset:
        ruleset.write(text)
        ruleset.flush()
        started = time.perf_counter()
        subprocess.run(["nft", "-f", ruleset.name], check=True, capture_output=True)
        return time.perf_counter() - started


def measure(count: int) -> dict[str, Any]:
    nft = Nftables()
    services, slices = objects(count)
    first, baseline, resync = [], [], []
    rules, text = 0, ""
    for _ in range(REPEATS):
        nft.delete_table()
        seconds, rules = sync(nft, services, slices, Existing())
        first.append(seconds)
        text = nft.text()
    for k in range(REPEATS):
        slices[k % count].endpoints[0].addresses[0] = f"10.245.0.{k + 1}"  # one endpoint replaced
        resync.append(sync(nft, services, slices, nft.existing())[0])
    for _ in range(REPEATS):
        nft.delete_table()
        baseline.append(nft_load_seconds(text))
    nft.delete_table()
    return {
        "services": count,
        "endpoints": count * ENDPOINTS,
        "rules": rules,
        "first_sync_seconds": statistics.median(first),
        "resync_seconds": statistics.median(resync),
        "nft_f_seconds": statistics.median(baseline),
        "samples": {"first_sync": first, "resync": resync, "nft_f": baseline},
    }


def main() -> None:
    sizes = [int(size) for size in sys.argv[1:]] or [10, 100, 1000]
    results = []
    for count in sizes:
        print(f"  proxy sync: {count} Services x {ENDPOINTS} endpoints ...", file=sys.stderr, flush=True)
        results.append(measure(count))
    assert not Nftables().existing().chains, f"table {TABLE['name']} left behind"
    print(json.dumps(results))


if __name__ == "__main__":
    main()
