"""Moving a store replica to another host by membership change, as etcd's runbook does.

When hosts join after the first `up`, the replicas it placed share a host, and losing that host
loses the store. `up` moves them (placement.replica_moves says which and where), one at a time and
never below quorum: add a member on the new host (MemberAdd), start its replica there, wait until
it has caught up with the leader, then remove the old member (MemberRemove) and stop its actor.
The layout is saved after each step, so an interrupted move is finished or undone by hand from
what `etcdctl member list` shows. The old replica's data directory stays on its host.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import grpc
import ray
from google.protobuf.message import Message

from cluster.bootstrap.actors import Report, ensure_actor, get_actor
from cluster.bootstrap.placement import StoreMember, save_store_layout, store_spec
from cluster.store.replication.members import url_of
from cluster.tls import Tls, grpc_channel_credentials, grpc_channel_options
from raykube.etcd.etcdserverpb import rpc_pb2, rpc_pb2_grpc

CATCH_UP_TIMEOUT = 120.0
CALL_TIMEOUT = 10.0


class MoveFailed(Exception):
    """A replica could not be moved; the message says which step and what the store answered."""


def move_replica(
    home: Path, layout: list[StoreMember], member: StoreMember, host: str, address: str, bind: str, tls: Tls,
    report: Report,
) -> list[StoreMember]:  # fmt: skip
    """Move `member` to `host` (reached at `address`); the new layout, saved."""
    index = 1 + max(int(m.name.rsplit("-", 1)[1]) for m in layout)
    name = f"store-{index}"
    peer_address = f"{address}:{member.peer_port}"
    joined = {**{m.name: m.peer_address for m in layout}, name: peer_address}
    new = StoreMember(name, host, member.client_port, member.peer_port, peer_address, joined, "existing")
    others = [m for m in layout if m.name != member.name]
    report(f"  {member.name}: moving to {host} as {name} (add, catch up, then remove {member.name})")
    _each_until_one_answers(
        others, tls, "MemberAdd", rpc_pb2.MemberAddRequest(peerURLs=[url_of(new.peer_address)])
    )
    grown = [*layout, new]
    save_store_layout(home, grown)
    try:
        actor = ensure_actor(store_spec(home, new, grown, bind, tls), report)
        ray.get(actor.info.remote(), timeout=CATCH_UP_TIMEOUT)
        _wait_caught_up(new, others, tls)
    except (MoveFailed, ray.exceptions.RayError) as err:  # undo: a member that never joins costs the quorum
        _remove(new, others, tls)
        save_store_layout(home, layout)
        raise MoveFailed(f"{name} on {host} did not join ({err}); it was removed again") from None
    _remove(member, [*others, new], tls)
    layout = [m for m in grown if m.name != member.name]
    save_store_layout(home, layout)
    report(f"  {member.name}: removed; {name} serves on {host}")
    return layout


def _remove(member: StoreMember, others: list[StoreMember], tls: Tls) -> None:
    """Remove `member` from the store's membership, then stop its actor for good."""
    members = _each_until_one_answers(others, tls, "MemberList", rpc_pb2.MemberListRequest())
    found = [m.ID for m in members.members if url_of(member.peer_address) in m.peerURLs]
    if found:
        _each_until_one_answers(others, tls, "MemberRemove", rpc_pb2.MemberRemoveRequest(ID=found[0]))
    actor = get_actor(member.name)
    if actor is not None:
        ray.kill(actor, no_restart=True)


def _channel(member: StoreMember, tls: Tls) -> grpc.Channel:
    return grpc.secure_channel(
        member.client_address, grpc_channel_credentials(tls), grpc_channel_options(tls)
    )


def _each_until_one_answers(members: list[StoreMember], tls: Tls, method: str, request: Message) -> Any:
    """Call `method` of the Cluster service on each member in turn until one answers (a follower
    may be the one that is down); the store forwards membership changes to its leader."""
    errors = []
    for member in members:
        with _channel(member, tls) as channel:
            try:
                return getattr(rpc_pb2_grpc.ClusterStub(channel), method)(request, timeout=CALL_TIMEOUT)
            except grpc.RpcError as err:
                errors.append(f"{member.name}: {err.details()}")
    raise MoveFailed("; ".join(errors))


def _status(member: StoreMember, tls: Tls) -> rpc_pb2.StatusResponse | None:
    with _channel(member, tls) as channel:
        try:
            status: rpc_pb2.StatusResponse = rpc_pb2_grpc.MaintenanceStub(channel).Status(
                rpc_pb2.StatusRequest(), timeout=5
            )
            return status
        except grpc.RpcError:
            return None


def _wait_caught_up(new: StoreMember, others: list[StoreMember], tls: Tls) -> None:
    """Until the new member has applied what the leader had committed when it was asked."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT
    target = max((s.raftIndex for s in (_status(m, tls) for m in others) if s is not None), default=0)
    while True:
        status = _status(new, tls)
        if status is not None and status.raftAppliedIndex >= target:
            return
        if time.monotonic() > deadline:
            raise MoveFailed(f"{new.name} did not catch up with the leader within {CATCH_UP_TIMEOUT:.0f}s")
        time.sleep(0.5)
