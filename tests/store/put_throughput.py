"""A quick put-throughput measurement against three store processes (not a test; the formal
benchmark lives in benchmarks/).

    .venv/bin/python -m tests.store.put_throughput [--seconds 5] [--clients 1,16,256] [--spread]

Starts three replicas with default timing on loopback (data in a temp dir), then for each client
count runs that many concurrent put loops (asyncio, one process, 8 channels) against the leader
(or, with --spread, against all three) for the given time, and prints puts/s and latency
percentiles. The replicas are stopped by their PID at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import grpc

from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

from .processes import ProcessCluster


async def measure(targets: list[str], clients: int, seconds: float) -> tuple[float, list[float]]:
    channels = [grpc.aio.insecure_channel(targets[i % len(targets)]) for i in range(max(8, len(targets)))]
    stubs = [rpc_pb2_grpc.KVStub(channel) for channel in channels]
    latencies: list[float] = []
    value = b"x" * 256
    stop_at = time.monotonic() + seconds

    async def client(n: int) -> None:
        stub, i = stubs[n % len(stubs)], 0
        while time.monotonic() < stop_at:
            i += 1
            began = time.monotonic()
            await stub.Put(rpc_pb2.PutRequest(key=b"bench/%d/%d" % (n, i % 1000), value=value), timeout=10)
            latencies.append(time.monotonic() - began)

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    elapsed = time.monotonic() - began
    for channel in channels:
        await channel.close()
    return len(latencies) / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", default="1,16,256")
    parser.add_argument(
        "--spread", action="store_true", help="send to all three replicas, not only the leader"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raykube-put-throughput-") as root:
        cluster = ProcessCluster(Path(root), tick_ms=100, request_timeout=7.0)
        try:
            leader = cluster.leader()
            names = list(cluster.procs) if args.spread else [leader]
            targets = [cluster.clients[name] for name in names]
            for clients in map(int, args.clients.split(",")):
                rate, latencies = asyncio.run(measure(targets, clients, args.seconds))
                q = statistics.quantiles(latencies, n=100)
                print(
                    f"{clients:4d} clients: {rate:8.0f} puts/s   "
                    f"p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms",
                    flush=True,
                )
        finally:
            cluster.close()


if __name__ == "__main__":
    main()
