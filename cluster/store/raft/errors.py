"""Errors raised by the Raft core.

Hierarchy:
    RaftError
    ├── StorageError: a Storage read or write that cannot be served
    │   ├── CompactedError: the index lies before the first available entry (compacted into a snapshot)
    │   ├── UnavailableError: the index lies after the last entry
    │   ├── SnapshotOutOfDateError: a snapshot older than the one already held
    │   └── SnapshotTemporarilyUnavailableError: the storage cannot produce a snapshot right now
    ├── ProposalDroppedError: a proposal, read or transfer that this node cannot accept now (no leader, ...)
    └── InvariantViolationError: a Raft invariant would break (e.g. truncating a committed entry); a bug
"""


class RaftError(Exception):
    """Base of every error the Raft core raises."""


class StorageError(RaftError):
    """A Storage read or write that cannot be served."""


class CompactedError(StorageError):
    """The requested index is before the first available entry: it was compacted into a snapshot."""


class UnavailableError(StorageError):
    """The requested index is after the last entry."""


class SnapshotOutOfDateError(StorageError):
    """The snapshot is older than the one storage already holds."""


class SnapshotTemporarilyUnavailableError(StorageError):
    """Storage cannot produce a snapshot now; the leader retries on a later append."""


class ProposalDroppedError(RaftError):
    """The request was not accepted (no known leader, leadership transfer in progress, not a member)."""


class InvariantViolationError(RaftError):
    """A Raft safety invariant would be violated; this is a bug in the caller or in the core."""
