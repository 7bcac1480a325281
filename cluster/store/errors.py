"""The store's errors: one hierarchy, each with etcd's exact text, mapped to gRPC codes here only.

    StoreError                                  (base)
    ├── InvalidRequest         INVALID_ARGUMENT  rejected at the edge or by the state machine
    │   ├── EmptyKey              "etcdserver: key is not provided"
    │   ├── KeyNotFound           "etcdserver: key not found"            (ignore_value/lease, empty op)
    │   ├── ValueProvided         "etcdserver: value is provided"
    │   ├── LeaseProvided         "etcdserver: lease is provided"
    │   ├── TooManyOps            "etcdserver: too many operations in txn request"
    │   └── DuplicateKey          "etcdserver: duplicate key given in txn request"
    ├── Compacted              OUT_OF_RANGE      "etcdserver: mvcc: required revision has been compacted"
    ├── FutureRevision         OUT_OF_RANGE      "etcdserver: mvcc: required revision is a future revision"
    ├── LeaseNotFound          NOT_FOUND         "etcdserver: requested lease not found"
    ├── LeaseExists            FAILED_PRECONDITION "etcdserver: lease already exists"
    ├── LeaseTTLTooLarge       OUT_OF_RANGE      "etcdserver: too large lease TTL"
    ├── Unavailable            UNAVAILABLE       the cluster cannot answer now; a client may retry
    │   ├── Stopped               "etcdserver: server stopped"
    │   ├── NoLeader              "etcdserver: no leader"                (nothing was proposed)
    │   ├── RequestTimedOut       "etcdserver: request timed out"        (a write may have happened)
    │   ├── LeaderChanged         "etcdserver: leader changed"           (a write may have happened)
    │   └── LeaderTransferTimedOut "etcdserver: request timed out, leader transfer took too long"
    ├── NotLeader              FAILED_PRECONDITION "etcdserver: not leader"
    ├── BadLeaderTransferee    FAILED_PRECONDITION "etcdserver: bad leader transferee"
    ├── MemberNotFound         NOT_FOUND         "etcdserver: member not found"
    ├── PeerURLExists          FAILED_PRECONDITION "etcdserver: Peer URLs already exists"
    └── MemberBadURLs          INVALID_ARGUMENT  "etcdserver: given member URLs are invalid"

    StorageError                                (not a client's fault: the node refuses to go on)
    └── CorruptLogError        a WAL record failed its check somewhere other than a torn tail

The state machine raises a StoreError *before* changing anything, so a failed entry leaves the
state as it was (and does so identically on every replica). The gRPC servicers turn StoreErrors into
statuses from their `code` and `text`; anything else escaping a servicer is a bug and surfaces as UNKNOWN.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import grpc


class StoreError(Exception):
    """A request the store refuses; `text` is etcd's message for it, word for word."""

    text: ClassVar[str] = "etcdserver: unknown error"
    code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN

    def __init__(self) -> None:
        super().__init__(self.text)


class InvalidRequest(StoreError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class EmptyKey(InvalidRequest):
    text = "etcdserver: key is not provided"


class KeyNotFound(InvalidRequest):
    text = "etcdserver: key not found"


class ValueProvided(InvalidRequest):
    text = "etcdserver: value is provided"


class LeaseProvided(InvalidRequest):
    text = "etcdserver: lease is provided"


class TooManyOps(InvalidRequest):
    text = "etcdserver: too many operations in txn request"


class DuplicateKey(InvalidRequest):
    text = "etcdserver: duplicate key given in txn request"


class Compacted(StoreError):
    text = "etcdserver: mvcc: required revision has been compacted"
    code = grpc.StatusCode.OUT_OF_RANGE


class FutureRevision(StoreError):
    text = "etcdserver: mvcc: required revision is a future revision"
    code = grpc.StatusCode.OUT_OF_RANGE


class LeaseNotFound(StoreError):
    text = "etcdserver: requested lease not found"
    code = grpc.StatusCode.NOT_FOUND


class LeaseExists(StoreError):
    text = "etcdserver: lease already exists"
    code = grpc.StatusCode.FAILED_PRECONDITION


class LeaseTTLTooLarge(StoreError):
    text = "etcdserver: too large lease TTL"
    code = grpc.StatusCode.OUT_OF_RANGE


class Unavailable(StoreError):
    code = grpc.StatusCode.UNAVAILABLE


class Stopped(Unavailable):
    text = "etcdserver: server stopped"


class NoLeader(Unavailable):
    text = "etcdserver: no leader"


class RequestTimedOut(Unavailable):
    text = "etcdserver: request timed out"


class LeaderChanged(Unavailable):
    text = "etcdserver: leader changed"


class LeaderTransferTimedOut(Unavailable):
    text = "etcdserver: request timed out, leader transfer took too long"


class NotLeader(StoreError):
    text = "etcdserver: not leader"
    code = grpc.StatusCode.FAILED_PRECONDITION


class BadLeaderTransferee(StoreError):
    text = "etcdserver: bad leader transferee"
    code = grpc.StatusCode.FAILED_PRECONDITION


class MemberNotFound(StoreError):
    text = "etcdserver: member not found"
    code = grpc.StatusCode.NOT_FOUND


class PeerURLExists(StoreError):
    text = "etcdserver: Peer URLs already exists"
    code = grpc.StatusCode.FAILED_PRECONDITION


class MemberBadURLs(StoreError):
    text = "etcdserver: given member URLs are invalid"
    code = grpc.StatusCode.INVALID_ARGUMENT


class StorageError(Exception):
    """The node's own files cannot be trusted; it must not start (or go on) with them."""


class CorruptLogError(StorageError):
    """A log record failed its length or CRC check at a place that is not a torn tail."""

    def __init__(self, path: Path, offset: int, reason: str) -> None:
        super().__init__(f"{path}: corrupt record at byte offset {offset}: {reason}")
        self.path = path
        self.offset = offset
