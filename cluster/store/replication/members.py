"""The member table: which replicas form the cluster, with their names and URLs (etcd's Member).

Replicated data, like the key space: it changes only when a replica applies a committed entry
(a conf change carries the member in its context, a `member_attributes` entry carries the name and
client URLs a member publishes once it runs) or restores a snapshot (which holds the table as of its
index). So every replica lists the same members at the same applied index. Raft's own config
(which IDs vote) is kept by the Raft core; this table is what clients see (MemberList) and where
the transport finds a peer's address.

Addresses are URLs as etcd shows them (`http://host:port`); `address_of` gives the `host:port`
that gRPC dials. Owned by the replicator on the event loop; not thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.store.raft import ConfChange, ConfChangeType
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2

_SCHEME = "http://"


def url_of(address: str) -> str:
    """The URL etcd would show for a host:port."""
    return address if address.startswith(_SCHEME) else _SCHEME + address


def address_of(url: str) -> str:
    """The host:port of an etcd-style URL (`http://host:port`, or a bare host:port)."""
    return url.removeprefix(_SCHEME).rstrip("/")


def host_of(address: str) -> str:
    """The host of a host:port (an IPv6 host without its brackets)."""
    return address.rpartition(":")[0].strip("[]")


def member_change(request_id: int, member: rpc_pb2.Member) -> bytes:
    """A conf change's context: who asked for it, and the member it is about."""
    return store_pb2.MemberChange(request_id=request_id, member=member).SerializeToString()


class Members:
    def __init__(self, members: Iterable[rpc_pb2.Member] = ()) -> None:
        self._members: dict[int, rpc_pb2.Member] = {}
        for member in members:
            self._members[member.ID] = _copy(member)

    def __contains__(self, member_id: int) -> bool:
        return member_id in self._members

    def get(self, member_id: int) -> rpc_pb2.Member | None:
        member = self._members.get(member_id)
        return _copy(member) if member is not None else None

    def list(self) -> list[rpc_pb2.Member]:
        """Every member, by ID."""
        return [_copy(self._members[i]) for i in sorted(self._members)]

    def peer_address(self, member_id: int) -> str | None:
        member = self._members.get(member_id)
        if member is None or not member.peerURLs:
            return None
        return address_of(member.peerURLs[0])

    def with_peer_url(self, url: str) -> rpc_pb2.Member | None:
        """The member one of whose peer URLs is `url` (how a joining node finds its own ID)."""
        wanted = address_of(url)
        for member in self._members.values():
            if any(address_of(u) == wanted for u in member.peerURLs):
                return _copy(member)
        return None

    def apply_change(self, change: ConfChange) -> int:
        """Apply a committed conf change; returns the request ID in its context (0 if none)."""
        context = store_pb2.MemberChange.FromString(change.context)
        if change.type is ConfChangeType.ADD_NODE:
            member = _copy(context.member) if context.HasField("member") else rpc_pb2.Member()
            member.ID = change.node_id
            self._members[change.node_id] = member
        else:
            self._members.pop(change.node_id, None)
        return context.request_id

    def publish(self, attributes: rpc_pb2.Member) -> None:
        """A member announced its name and client URLs; ignored for a member no longer listed."""
        member = self._members.get(attributes.ID)
        if member is not None:
            member.name = attributes.name
            del member.clientURLs[:]
            member.clientURLs.extend(attributes.clientURLs)


def _copy(member: rpc_pb2.Member) -> rpc_pb2.Member:
    out = rpc_pb2.Member()
    out.CopyFrom(member)
    return out
