"""A steady client load on a store cluster, every operation recorded into a history.

Writer threads put unique values to a few shared keys (each followed by a put to a key of its own,
`ack/<writer>/<n>`, so acknowledged writes can be counted afterwards), and compare-and-swap on the
shared keys by mod revision; reader threads do linearizable reads of the shared keys. Each thread
sends every request to a replica chosen at random, through one channel per replica. Recording uses
tests/store/history.py; the history is checked with tests/store/linearizability.py.

An error that proves the request never ran is recorded `fail`: "etcdserver: no leader" (never
proposed) and a refused connection (never sent). Everything else, timeouts included, is `unknown`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import grpc

from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc
from raykube.etcd.mvccpb import kv_pb2
from tests.store.history import Recorder

SHARED_KEYS = [b"reg/a", b"reg/b", b"reg/c"]
REQUEST_TIMEOUT = 3.0


def definitely_not_applied(exc: BaseException) -> bool:
    if not isinstance(exc, grpc.RpcError):
        return False
    details = exc.details() or ""
    return details == "etcdserver: no leader" or "Connection refused" in details


class Workload:
    def __init__(
        self, targets: Callable[[], list[str]], writers: int = 3, readers: int = 2, seed: int = 1
    ) -> None:
        """`targets()`: the client addresses to spread requests over (asked again on every request)."""
        self.recorder = Recorder(definite_failure=definitely_not_applied)
        self.acked: list[bytes] = []  # ack/ keys whose put was acknowledged
        self._targets = targets
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._writer, args=(w, random.Random(seed * 100 + w)), daemon=True)
            for w in range(writers)
        ] + [
            threading.Thread(target=self._reader, args=(r, random.Random(seed * 1000 + r)), daemon=True)
            for r in range(readers)
        ]
        self.errors: list[str] = []

    def __enter__(self) -> Workload:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(2 * REQUEST_TIMEOUT + 5)

    def ok_count(self) -> int:
        return sum(1 for op in self.recorder.history() if op.status == "ok")

    def _kv(self, channels: dict[str, grpc.Channel], rng: random.Random) -> rpc_pb2_grpc.KVStub:
        target = rng.choice(self._targets())
        if target not in channels:
            channels[target] = grpc.insecure_channel(target)
        return rpc_pb2_grpc.KVStub(channels[target])

    def _writer(self, writer: int, rng: random.Random) -> None:
        channels: dict[str, grpc.Channel] = {}
        n = 0
        while not self._stop.is_set():
            n += 1
            key, value = rng.choice(SHARED_KEYS), b"w%d-%d" % (writer, n)
            try:
                if rng.random() < 0.25:
                    self._cas(self._kv(channels, rng), writer, key, value)
                else:
                    self._put(self._kv(channels, rng), writer, key, value)
                ack = b"ack/%d/%d" % (writer, n)
                self._put(self._kv(channels, rng), writer, ack, b"1")
                with self._lock:
                    self.acked.append(ack)
            except grpc.RpcError as err:
                self._note(err)
        for channel in channels.values():
            channel.close()

    def _put(self, kv: rpc_pb2_grpc.KVStub, process: int, key: bytes, value: bytes) -> None:
        with self.recorder.operation(process, key, "write", value=value) as op:
            resp = kv.Put(rpc_pb2.PutRequest(key=key, value=value), timeout=REQUEST_TIMEOUT)
            op.ok(revision=resp.header.revision)

    def _cas(self, kv: rpc_pb2_grpc.KVStub, process: int, key: bytes, value: bytes) -> None:
        """Read the key's mod revision, then put only if it is still that (Kubernetes' update)."""
        got = self._read(kv, process, key)
        expected = got.mod_revision if got is not None else 0
        compare = rpc_pb2.Compare(
            key=key, target=rpc_pb2.Compare.MOD, result=rpc_pb2.Compare.EQUAL, mod_revision=expected
        )
        put = rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value))
        with self.recorder.operation(process, key, "cas_revision", value=value, expected=expected) as op:
            resp = kv.Txn(rpc_pb2.TxnRequest(compare=[compare], success=[put]), timeout=REQUEST_TIMEOUT)
            op.ok(applied=resp.succeeded, revision=resp.header.revision if resp.succeeded else None)

    def _read(self, kv: rpc_pb2_grpc.KVStub, process: int | str, key: bytes) -> kv_pb2.KeyValue | None:
        with self.recorder.operation(process, key, "read") as op:
            resp = kv.Range(rpc_pb2.RangeRequest(key=key), timeout=REQUEST_TIMEOUT)
            found = resp.kvs[0] if resp.kvs else None
            op.ok(found.value if found else None, revision=found.mod_revision if found else None)
        return found

    def _reader(self, reader: int, rng: random.Random) -> None:
        channels: dict[str, grpc.Channel] = {}
        while not self._stop.is_set():
            try:
                self._read(self._kv(channels, rng), f"r{reader}", rng.choice(SHARED_KEYS))
            except grpc.RpcError as err:
                self._note(err)
        for channel in channels.values():
            channel.close()

    def _note(self, err: grpc.RpcError) -> None:
        with self._lock:
            self.errors.append(f"{err.code().name}: {err.details()}")
