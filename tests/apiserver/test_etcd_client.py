"""The API server's etcd client fails over between store members on UNAVAILABLE."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf.message import Message

from cluster.apiserver.etcd import EtcdStorage, KeyExists, StoreUnavailable
from cluster.apiserver.txn_batch import TxnBatcher
from cluster.bootstrap.ray_node import free_port
from cluster.store.server import start_store_node
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2
from tests.store.etcd_process import ETCD, RealEtcd


def test_a_dead_member_is_skipped_and_a_live_one_answers(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        dead = f"127.0.0.1:{free_port()}"  # nothing listens here
        live = f"127.0.0.1:{node.address[1]}"
        storage = EtcdStorage([dead, live], backoff=0.01)
        try:
            revision = await storage.create("/k", b"v")
            assert storage.endpoint == live
            kv = await storage.get("/k")
            assert kv is not None and (kv.value, kv.mod_revision) == (b"v", revision)
            with pytest.raises(KeyExists):  # an answer, not a transport failure: not retried elsewhere
                await storage.create("/k", b"again")
        finally:
            await storage.close()
            await node.stop()

    asyncio.run(scenario())


def test_no_live_member_is_unavailable_after_the_retries(tmp_path: Path) -> None:
    async def scenario() -> None:
        members = [f"127.0.0.1:{free_port()}" for _ in range(2)]
        calls = 0

        async def endpoints() -> list[str]:
            nonlocal calls
            calls += 1
            return members

        storage = EtcdStorage(endpoints, attempts=4, backoff=0.01)
        with pytest.raises(StoreUnavailable):
            await storage.get("/k")
        assert calls == 2  # resolved again after trying every member once
        await storage.close()

    asyncio.run(scenario())


async def create_together(storage: EtcdStorage, keys: list[str]) -> list[int | BaseException]:
    return await asyncio.gather(*(storage.create(key, b"v") for key in keys), return_exceptions=True)


def test_concurrent_writes_share_store_calls_and_keep_their_own_outcomes(tmp_path: Path) -> None:
    async def scenario() -> None:
        node = await start_store_node(tmp_path / "store", "127.0.0.1", 0)
        storage = EtcdStorage(f"127.0.0.1:{node.address[1]}")
        try:
            keys = [f"/k/{i}" for i in range(40)]
            outcomes = await create_together(storage, [*keys, "/k/3"])  # the last one is taken
            revisions = outcomes[:-1]
            assert all(isinstance(r, int) for r in revisions) and len(set(revisions)) == 40  # each its own
            assert isinstance(outcomes[-1], KeyExists)
            assert 1 <= storage._batcher.batches < 10  # 41 creates, a few calls
            for key, revision in zip(keys, revisions, strict=True):
                kv = await storage.get(key)
                assert kv is not None and kv.mod_revision == revision
        finally:
            await storage.close()
            await node.stop()

    asyncio.run(scenario())


@pytest.mark.skipif(ETCD is None, reason="etcd is not installed (scripts/setup.sh installs it)")
def test_against_a_real_etcd_each_write_goes_alone(tmp_path: Path) -> None:
    etcd = RealEtcd(tmp_path / "etcd")
    try:

        async def scenario() -> None:
            storage = EtcdStorage(etcd.target)
            try:
                outcomes = await create_together(storage, ["/a", "/b", "/a"])
                assert [type(o) for o in outcomes] in ([int, int, KeyExists], [KeyExists, int, int])
                assert storage._batcher.batches == 0  # etcd has no TxnBatch: it said UNIMPLEMENTED
                assert isinstance(await storage.create("/c", b"v"), int)
            finally:
                await storage.close()

        asyncio.run(scenario())
    finally:
        etcd.stop()


def test_a_refused_item_fails_with_its_own_status_and_the_others_succeed() -> None:
    """A batch item the store refused fails as its lone Txn would (its code, its message); an item
    that provably was not applied goes again alone."""
    seen: list[tuple[str, int]] = []

    async def call(method: str, request: Message) -> Any:
        seen.append((method, len(request.txns) if method == "TxnBatch" else 1))  # type: ignore[attr-defined]
        if method == "Txn":
            return rpc_pb2.TxnResponse(succeeded=True)
        return store_pb2.TxnBatchResponse(outcomes=[
            store_pb2.TxnOutcome(response=rpc_pb2.TxnResponse(succeeded=True)),
            store_pb2.TxnOutcome(code=grpc.StatusCode.INVALID_ARGUMENT.value[0], message="bad key"),
            store_pb2.TxnOutcome(code=grpc.StatusCode.UNAVAILABLE.value[0], message="no leader"),
        ])  # fmt: skip

    def failure(code: grpc.StatusCode, message: str) -> Exception:
        return RuntimeError(f"{code.name}: {message}")

    async def scenario() -> list[Any]:
        batcher = TxnBatcher(call, failure, lambda code, _: code is grpc.StatusCode.UNAVAILABLE)
        txns = [batcher.txn(rpc_pb2.TxnRequest()) for _ in range(3)]
        return await asyncio.gather(*txns, return_exceptions=True)

    ok, refused, resent = asyncio.run(scenario())
    assert ok.succeeded and resent.succeeded
    assert isinstance(refused, RuntimeError) and str(refused) == "INVALID_ARGUMENT: bad key"
    assert seen == [("TxnBatch", 3), ("Txn", 1)]
