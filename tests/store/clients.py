"""A small synchronous Watch client over the generated stubs, shared by the gRPC and wire tests."""

from __future__ import annotations

import queue
import threading

import grpc

from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc


class WatchClient:
    """One Watch stream: send requests any time, read responses with a timeout."""

    def __init__(self, channel: grpc.Channel) -> None:
        self._requests: queue.Queue[rpc_pb2.WatchRequest | None] = queue.Queue()
        self._responses: queue.Queue[rpc_pb2.WatchResponse] = queue.Queue()
        self._call = rpc_pb2_grpc.WatchStub(channel).Watch(iter(self._requests.get, None))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            for response in self._call:
                self._responses.put(response)
        except grpc.RpcError:
            pass  # cancelled by close()

    def create(self, key: bytes, range_end: bytes = b"", **kw: object) -> int:
        req = rpc_pb2.WatchCreateRequest(key=key, range_end=range_end, **kw)  # type: ignore[arg-type]
        self._requests.put(rpc_pb2.WatchRequest(create_request=req))
        created = self.next()
        assert created.created and not created.canceled, created
        return created.watch_id

    def send(self, request: rpc_pb2.WatchRequest) -> None:
        self._requests.put(request)

    def next(self, timeout: float = 5.0) -> rpc_pb2.WatchResponse:
        return self._responses.get(timeout=timeout)

    def events(self, n: int, timeout: float = 5.0) -> list[tuple[int, int, bytes, bytes, int]]:
        """The next n events (over as many responses as it takes), as (watch id, type, key, value, mod)."""
        out: list[tuple[int, int, bytes, bytes, int]] = []
        while len(out) < n:
            resp = self.next(timeout)
            out += [(resp.watch_id, e.type, e.kv.key, e.kv.value, e.kv.mod_revision) for e in resp.events]
        return out

    def quiet(self, timeout: float = 0.3) -> bool:
        try:
            self._responses.get(timeout=timeout)
        except queue.Empty:
            return True
        return False

    def close(self) -> None:
        self._call.cancel()
        self._requests.put(None)
        self._reader.join(5)
