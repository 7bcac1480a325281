"""etcd's Cluster service: MemberList, MemberAdd, MemberRemove over Raft conf changes.

Membership changes one voter at a time (the Raft core's single-server changes): MemberAdd and
MemberRemove propose a conf-change entry carrying the member, and answer once it is applied on
this replica; one change at a time is also what the core enforces (a second one proposed while
the first is unapplied is dropped, and its caller times out). This replica serializes its own
callers so they do not trip over each other.

As with etcd, MemberAdd only takes peer URLs: the new member gets an ID derived from them, the
cluster name and the time; the operator then starts it with an empty data directory and
initial_cluster_state "existing", and it finds its ID by its peer URL (identity.py). Its name and
client URLs appear once it runs and publishes them. Learners are not supported.
"""

from __future__ import annotations

import asyncio
import re
import time

import grpc

from cluster.store.errors import MemberBadURLs, MemberNotFound, PeerURLExists
from cluster.store.raft import ConfChangeType
from cluster.store.replication.identity import derive_id
from cluster.store.replication.members import address_of
from cluster.store.replication.raft_replicator import RaftReplicator
from cluster.store.v3rpc.rpc import Context, Headers, unary
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

_PEER_URL = re.compile(r"^(http://)?[A-Za-z0-9.\-\[\]:]+:\d+/?$")


class ClusterService(rpc_pb2_grpc.ClusterServicer):
    def __init__(self, replicator: RaftReplicator, headers: Headers, cluster_name: str) -> None:
        self._replicator = replicator
        self._headers = headers
        self._cluster_name = cluster_name
        self._changing = asyncio.Lock()

    @unary
    async def MemberList(
        self, request: rpc_pb2.MemberListRequest, context: Context
    ) -> rpc_pb2.MemberListResponse:
        if request.linearizable:
            await self._replicator.read_barrier(False)
        return rpc_pb2.MemberListResponse(
            header=self._headers.make(), members=self._replicator.members.list()
        )

    @unary
    async def MemberAdd(
        self, request: rpc_pb2.MemberAddRequest, context: Context
    ) -> rpc_pb2.MemberAddResponse:
        if request.isLearner:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "raykube store: learners are not supported")
        urls = list(request.peerURLs)
        if not urls or not all(_PEER_URL.match(url) for url in urls):
            raise MemberBadURLs()
        wanted = {address_of(url) for url in urls}
        for member in self._replicator.members.list():
            if wanted & {address_of(url) for url in member.peerURLs}:
                raise PeerURLExists()
        member = rpc_pb2.Member(
            ID=derive_id(self._cluster_name, *sorted(urls), str(time.time())), peerURLs=urls
        )
        async with self._changing:
            await self._replicator.change_membership(ConfChangeType.ADD_NODE, member)
        return rpc_pb2.MemberAddResponse(
            header=self._headers.make(), member=member, members=self._replicator.members.list()
        )

    @unary
    async def MemberRemove(
        self, request: rpc_pb2.MemberRemoveRequest, context: Context
    ) -> rpc_pb2.MemberRemoveResponse:
        if request.ID not in self._replicator.members:
            raise MemberNotFound()
        async with self._changing:
            await self._replicator.change_membership(
                ConfChangeType.REMOVE_NODE, rpc_pb2.Member(ID=request.ID)
            )
        return rpc_pb2.MemberRemoveResponse(
            header=self._headers.make(), members=self._replicator.members.list()
        )
