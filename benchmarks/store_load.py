"""Load for the store benchmark: N concurrent etcd v3 clients (puts or linearizable ranges).

One load process runs `clients` asyncio tasks over a few gRPC channels, each task issuing one
request at a time for `seconds`, and returns every latency. The benchmark runs several such
processes so that the client side does not cap the servers on this machine's two cores. The same
code drives raykube's store and a real etcd: only the endpoints differ.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass

import grpc

from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

KEY_SPACE = 10_000
VALUE = os.urandom(256)


@dataclass(frozen=True)
class LoadSpec:
    endpoints: tuple[str, ...]
    operation: str  # "put" or "range"
    clients: int
    seconds: float
    seed: int


async def _load(spec: LoadSpec) -> tuple[list[float], int]:
    rng = random.Random(spec.seed)
    channels = [grpc.aio.insecure_channel(spec.endpoints[i % len(spec.endpoints)])
                for i in range(min(len(spec.endpoints) * 2, max(spec.clients, 1)))]  # fmt: skip
    stubs = [rpc_pb2_grpc.KVStub(c) for c in channels]
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + spec.seconds

    async def client(index: int) -> None:
        nonlocal errors
        kv = stubs[index % len(stubs)]
        while time.monotonic() < deadline:
            key = b"bench/%08d" % rng.randrange(KEY_SPACE)
            started = time.perf_counter()
            try:
                if spec.operation == "put":
                    await kv.Put(rpc_pb2.PutRequest(key=key, value=VALUE), timeout=10)
                else:
                    await kv.Range(rpc_pb2.RangeRequest(key=key), timeout=10)  # linearizable by default
            except grpc.aio.AioRpcError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(client(i) for i in range(spec.clients)))
    for channel in channels:
        await channel.close()
    return latencies, errors


def run_load(spec: LoadSpec) -> tuple[list[float], int]:
    """Entry point of one load process: (latencies in seconds, failed requests)."""
    return asyncio.run(_load(spec))
