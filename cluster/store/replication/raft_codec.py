"""The Raft core's value types to and from protobuf: the one place that knows both shapes.

Used by the peer transport (messages on the wire) and by the on-disk storage (entry runs in WAL
records, snapshots in files). Field for field, no interpretation: what goes in comes back equal.
Enum values travel as plain numbers; an unknown one raises ValueError (a peer from the future or
a damaged record), which the caller treats as a bad request or a corrupt file.
"""

from __future__ import annotations

from collections.abc import Iterable

from cluster.store.raft import ConfState, Entry, EntryType, Message, MessageType, Snapshot
from raykube.store.v1 import store_pb2


def entry_to_pb(entry: Entry) -> store_pb2.RaftEntry:
    return store_pb2.RaftEntry(term=entry.term, index=entry.index, type=entry.type, data=entry.data)


def entry_from_pb(pb: store_pb2.RaftEntry) -> Entry:
    return Entry(pb.term, pb.index, EntryType(pb.type), pb.data)


def entries_to_bytes(entries: Iterable[Entry]) -> bytes:
    return store_pb2.RaftEntries(entries=[entry_to_pb(e) for e in entries]).SerializeToString()


def entries_from_bytes(data: bytes) -> list[Entry]:
    return [entry_from_pb(pb) for pb in store_pb2.RaftEntries.FromString(data).entries]


def snapshot_to_pb(snapshot: Snapshot) -> store_pb2.RaftSnapshot:
    return store_pb2.RaftSnapshot(
        index=snapshot.index,
        term=snapshot.term,
        voters=snapshot.conf_state.voters,
        data=snapshot.data,
    )


def snapshot_from_pb(pb: store_pb2.RaftSnapshot) -> Snapshot:
    return Snapshot(pb.index, pb.term, ConfState(tuple(pb.voters)), pb.data)


def message_to_pb(m: Message) -> store_pb2.RaftMessage:
    pb = store_pb2.RaftMessage(
        type=m.type,
        to=m.to,
        frm=m.frm,
        term=m.term,
        log_term=m.log_term,
        index=m.index,
        commit=m.commit,
        reject=m.reject,
        reject_hint=m.reject_hint,
        context=m.context,
    )
    if m.entries:
        pb.entries.extend([entry_to_pb(e) for e in m.entries])
    if m.snapshot is not None:
        pb.snapshot.CopyFrom(snapshot_to_pb(m.snapshot))
    return pb


def message_from_pb(pb: store_pb2.RaftMessage) -> Message:
    return Message(
        type=MessageType(pb.type),
        to=pb.to,
        frm=pb.frm,
        term=pb.term,
        log_term=pb.log_term,
        index=pb.index,
        entries=[entry_from_pb(e) for e in pb.entries],
        commit=pb.commit,
        reject=pb.reject,
        reject_hint=pb.reject_hint,
        snapshot=snapshot_from_pb(pb.snapshot) if pb.HasField("snapshot") else None,
        context=pb.context,
    )
