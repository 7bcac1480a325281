"""A store that does nothing: etcd's KV and Maintenance API in Python gRPC, answering at once.

    python -m benchmarks.grpc_floor --listen 127.0.0.1:2379

The store benchmark runs three of these beside etcd and raykube's store: what Python's gRPC server
alone costs per request on this machine, with nothing stored, replicated or made durable, is the
most any store served the same way (raykube's included) could do under the same load. Put and
Range answer with a bare header; Status names member 1 as leader (so the benchmark's wait for a
leader works). It runs on uvloop, as raykube's store does. Prints `listening on HOST:PORT` once
serving; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc
import uvloop

from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

HEADER = rpc_pb2.ResponseHeader(cluster_id=1, member_id=1, revision=1, raft_term=1)


class FloorKV(rpc_pb2_grpc.KVServicer):
    async def Put(
        self, request: rpc_pb2.PutRequest, context: grpc.aio.ServicerContext
    ) -> rpc_pb2.PutResponse:
        return rpc_pb2.PutResponse(header=HEADER)

    async def Range(
        self, request: rpc_pb2.RangeRequest, context: grpc.aio.ServicerContext
    ) -> rpc_pb2.RangeResponse:
        return rpc_pb2.RangeResponse(header=HEADER)


class FloorMaintenance(rpc_pb2_grpc.MaintenanceServicer):
    async def Status(
        self, request: rpc_pb2.StatusRequest, context: grpc.aio.ServicerContext
    ) -> rpc_pb2.StatusResponse:
        return rpc_pb2.StatusResponse(header=HEADER, leader=1)


async def serve(listen: str) -> None:
    server = grpc.aio.server()
    rpc_pb2_grpc.add_KVServicer_to_server(FloorKV(), server)
    rpc_pb2_grpc.add_MaintenanceServicer_to_server(FloorMaintenance(), server)
    port = server.add_insecure_port(listen)
    await server.start()
    print(f"listening on {listen.rpartition(':')[0]}:{port}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True, help="host:port")
    uvloop.run(serve(parser.parse_args().listen))  # the event loop raykube's store runs on


if __name__ == "__main__":
    main()
