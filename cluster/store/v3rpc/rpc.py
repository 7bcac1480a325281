"""What every store servicer shares: etcd-shaped response headers and StoreError -> gRPC status.

etcd fills every top-level response header with its cluster ID, its member ID, the current
revision (unless the operation set one) and the Raft term; nested txn responses keep their own
bare headers. `Headers` does that from the Replicator's status, so the Raft shell's real term
and member ID show up without the servicers knowing.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from cluster.store.errors import StoreError
from cluster.store.mvcc.state_machine import Response, StateMachine
from cluster.store.replication.replicator import Replicator
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

Context = grpc.aio.ServicerContext
S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")
R = TypeVar("R", bound=Response)


class Headers:
    def __init__(self, cluster_id: int, machine: StateMachine, replicator: Replicator) -> None:
        self.cluster_id = cluster_id
        self._machine = machine
        self._replicator = replicator

    def fill(self, header: rpc_pb2.ResponseHeader) -> None:
        status = self._replicator.status()
        header.cluster_id = self.cluster_id
        header.member_id = status.member_id
        header.raft_term = status.term
        if not header.revision:
            header.revision = self._machine.revision

    def make(self, revision: int | None = None) -> rpc_pb2.ResponseHeader:
        """A filled header; with `revision` given, exactly that revision (0 included)."""
        status = self._replicator.status()
        return rpc_pb2.ResponseHeader(
            cluster_id=self.cluster_id,
            member_id=status.member_id,
            raft_term=status.term,
            revision=self._machine.revision if revision is None else revision,
        )


async def write(replicator: Replicator, headers: Headers, entry: store_pb2.Entry, kind: type[R]) -> R:
    """Propose `entry`; return its response (a `kind`) with the header filled like etcd's."""
    resp = await replicator.propose(entry)
    assert isinstance(resp, kind), resp
    headers.fill(resp.header)
    return resp


def unary(
    method: Callable[[S, Req, grpc.aio.ServicerContext], Awaitable[Resp]],
) -> Callable[[S, Req, grpc.aio.ServicerContext], Awaitable[Resp]]:
    """Turn a StoreError raised by a unary servicer method into etcd's status code and text."""

    @functools.wraps(method)
    async def wrapper(self: S, request: Req, context: grpc.aio.ServicerContext) -> Resp:
        try:
            return await method(self, request, context)
        except StoreError as err:
            await context.abort(err.code, err.text)
            raise  # not reached: abort() raises

    return wrapper
