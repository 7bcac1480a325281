"""Plain value types exchanged between the Raft core, its storage and its I/O shell.

They are slotted dataclasses of ints, bytes, lists and enums so the shell can map them one-to-one onto
protobuf. `NONE` (0) is the id of no node: node ids are positive.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

NONE = 0


class MessageType(enum.IntEnum):
    """Message kinds. HUP, BEAT, CHECK_QUORUM, UNREACHABLE and SNAP_STATUS are local: never on the wire."""

    HUP = 0
    BEAT = 1
    PROP = 2
    APP = 3
    APP_RESP = 4
    VOTE = 5
    VOTE_RESP = 6
    SNAP = 7
    HEARTBEAT = 8
    HEARTBEAT_RESP = 9
    UNREACHABLE = 10
    SNAP_STATUS = 11
    CHECK_QUORUM = 12
    TRANSFER_LEADER = 13
    TIMEOUT_NOW = 14
    READ_INDEX = 15
    READ_INDEX_RESP = 16
    PRE_VOTE = 17
    PRE_VOTE_RESP = 18

    @property
    def label(self) -> str:
        """etcd-style name, e.g. MsgAppResp, used in transcripts and traces."""
        return "Msg" + "".join(part.capitalize() for part in self.name.split("_"))


LOCAL_MESSAGES = frozenset(
    {
        MessageType.HUP,
        MessageType.BEAT,
        MessageType.UNREACHABLE,
        MessageType.SNAP_STATUS,
        MessageType.CHECK_QUORUM,
    }
)


class EntryType(enum.IntEnum):
    NORMAL = 0
    CONF_CHANGE = 1


class StateRole(enum.IntEnum):
    FOLLOWER = 0
    CANDIDATE = 1
    LEADER = 2
    PRE_CANDIDATE = 3

    @property
    def label(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("_"))


class ConfChangeType(enum.IntEnum):
    ADD_NODE = 0
    REMOVE_NODE = 1


@dataclass(slots=True)
class Entry:
    """One log entry. `data` of a CONF_CHANGE entry is an encoded ConfChange.

    Entries are shared between logs, messages and Readies: never mutate one after creating it.
    """

    term: int
    index: int
    type: EntryType = EntryType.NORMAL
    data: bytes = b""


@dataclass(slots=True, frozen=True)
class ConfState:
    """The voters of a configuration, sorted."""

    voters: tuple[int, ...] = ()


@dataclass(slots=True)
class Snapshot:
    """Application state up to and including `index` (whose entry had `term`) and the config there."""

    index: int = 0
    term: int = 0
    conf_state: ConfState = field(default_factory=ConfState)
    data: bytes = b""


@dataclass(slots=True)
class Message:
    """A Raft message. Which fields matter depends on `type` (as in etcd's raftpb.Message).

    For APP, `index`/`log_term` identify the entry preceding `entries`. A rejected APP_RESP carries the
    rejected `index` and a hint (`reject_hint`, `log_term`) where the follower's log may match.
    """

    type: MessageType
    to: int = NONE
    frm: int = NONE
    term: int = 0
    log_term: int = 0
    index: int = 0
    entries: list[Entry] = field(default_factory=list)
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""


@dataclass(slots=True, frozen=True)
class HardState:
    """What must be durable before any message produced with it leaves the node."""

    term: int = 0
    vote: int = NONE
    commit: int = 0


@dataclass(slots=True, frozen=True)
class SoftState:
    """Volatile state worth reporting: who leads and which role this node plays."""

    lead: int = NONE
    role: StateRole = StateRole.FOLLOWER


@dataclass(slots=True, frozen=True)
class ReadState:
    """A ReadIndex result: reads issued with `context` are linearizable once `index` is applied."""

    index: int
    context: bytes


_CONF_CHANGE = struct.Struct(">BQ")


@dataclass(slots=True, frozen=True)
class ConfChange:
    """Add or remove one voter. Encoded into a CONF_CHANGE entry; applied after commit.

    `context` is opaque to Raft and travels with the change (etcd's ConfChange.Context): the
    application puts what it must know about the member there (its address), so that every
    replica learns it from the log in the same order as the change itself.
    """

    type: ConfChangeType
    node_id: int
    context: bytes = b""

    def encode(self) -> bytes:
        return _CONF_CHANGE.pack(self.type, self.node_id) + self.context

    @classmethod
    def decode(cls, data: bytes) -> ConfChange:
        kind, node_id = _CONF_CHANGE.unpack_from(data)
        return cls(ConfChangeType(kind), node_id, bytes(data[_CONF_CHANGE.size :]))
