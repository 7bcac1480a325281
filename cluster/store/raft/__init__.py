"""A pure Raft consensus core (etcd-io/raft model): no I/O, no clock; driven by tick() and step().

Start at rawnode.py: its docstring is the contract an I/O shell follows (persist, send, apply, advance).
"""

from cluster.store.raft.config import Config
from cluster.store.raft.errors import (
    CompactedError,
    InvariantViolationError,
    ProposalDroppedError,
    RaftError,
    SnapshotOutOfDateError,
    SnapshotTemporarilyUnavailableError,
    StorageError,
    UnavailableError,
)
from cluster.store.raft.messages import (
    NONE,
    ConfChange,
    ConfChangeType,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    MessageType,
    ReadState,
    Snapshot,
    SoftState,
    StateRole,
)
from cluster.store.raft.rawnode import RawNode, Ready, Status
from cluster.store.raft.storage import MemoryStorage, Storage

__all__ = [
    "NONE",
    "CompactedError",
    "ConfChange",
    "ConfChangeType",
    "ConfState",
    "Config",
    "Entry",
    "EntryType",
    "HardState",
    "InvariantViolationError",
    "MemoryStorage",
    "Message",
    "MessageType",
    "ProposalDroppedError",
    "RaftError",
    "RawNode",
    "ReadState",
    "Ready",
    "Snapshot",
    "SnapshotOutOfDateError",
    "SnapshotTemporarilyUnavailableError",
    "SoftState",
    "StateRole",
    "Status",
    "Storage",
    "StorageError",
    "UnavailableError",
]
