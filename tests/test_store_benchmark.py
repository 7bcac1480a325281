"""The store benchmark's systems: the do-nothing gRPC floor starts, answers and stops like the others."""

from pathlib import Path

import grpc

from benchmarks.clusters import GrpcFloor
from benchmarks.store_load import LoadSpec, run_load
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


def test_the_floor_answers_puts_on_every_member_and_its_processes_stop(tmp_path: Path) -> None:
    with GrpcFloor(tmp_path) as floor:
        processes = list(floor._processes)
        for endpoint in floor.endpoints:
            with grpc.insecure_channel(endpoint) as channel:
                answer = rpc_pb2_grpc.KVStub(channel).Put(rpc_pb2.PutRequest(key=b"k", value=b"v"), timeout=5)
                assert answer.header.revision == 1
        latencies, errors = run_load(LoadSpec(floor.endpoints, "put", 4, 0.3, seed=0))
        assert latencies and errors == 0
    assert all(process.poll() is not None for process in processes)
