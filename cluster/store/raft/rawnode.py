"""RawNode: the API an I/O shell drives, and the Ready batches it hands back.

The contract (single-threaded; the shell owns the loop):

1. Inputs, in any order, any number of times: `tick()` on a fixed clock (election and heartbeat
   timeouts are counted in ticks); `step(message)` for every message received from a peer;
   `propose`, `propose_conf_change`, `read_index`, `transfer_leadership`, `campaign` for requests.
2. When `has_ready()`, take `rd = ready()` and handle it in this order:
   a. persist: `rd.snapshot` (if any), then append `rd.entries` (they may replace a suffix of the log),
      then `rd.hard_state` (if any); fsync if `rd.must_sync`. Entries and term/vote must be durable
      before b: vote grants and append acks in `rd.messages` promise exactly that.
   b. send `rd.messages` (losing some is fine: Raft retries; a MsgSnap's fate is reported back with
      `report_snapshot`, an unreachable peer with `report_unreachable`).
   c. apply: restore the state machine from `rd.snapshot` if any, then apply `rd.committed_entries` in
      order; for a CONF_CHANGE entry call `apply_conf_change(ConfChange.decode(entry.data))` and keep
      the returned ConfState with the applied state (storage.initial_state must return it on restart).
      Serve reads in `rd.read_states` once applied index >= their index.
   d. `advance()`. Then the next `ready()` may be taken.
   Inputs may be stepped between ready() and advance() (e.g. while the fsync runs); their output
   waits for the next Ready.
3. Compaction is the application's business: after applying up to index i it may call
   `storage.create_snapshot(i, conf_state, data)` and later `storage.compact(j)` for j <= i. The leader
   sends that snapshot (MsgSnap) to followers whose next entry was compacted away.
4. A new cluster starts with `bootstrap(peers)` on every founding member (empty storage); a node that
   joins later starts empty, with no bootstrap, and learns the config from the log or a snapshot.
5. On restart, build a new RawNode over the same storage with `Config.applied` = the index the state
   machine has durably applied (e.g. its snapshot's) and `storage.initial_state()` returning the
   ConfState as of that index. Committed entries after it are handed out again; replaying their conf
   changes rebuilds the config (the node does not campaign until they are applied).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cluster.store.raft.config import Config
from cluster.store.raft.core import Raft
from cluster.store.raft.errors import InvariantViolationError, ProposalDroppedError
from cluster.store.raft.messages import (
    LOCAL_MESSAGES,
    NONE,
    ConfChange,
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
from cluster.store.raft.progress import Progress
from cluster.store.raft.storage import Storage


@dataclass(slots=True)
class Ready:
    """One batch of work for the shell; the fields are in the order they must be handled."""

    hard_state: HardState | None = None  # set when term, vote or commit changed
    entries: list[Entry] = field(default_factory=list)  # to append to storage
    snapshot: Snapshot | None = None  # to persist and restore the state machine from
    must_sync: bool = False  # entries, snapshot, term or vote changed: fsync before sending
    messages: list[Message] = field(default_factory=list)  # to send after persisting
    committed_entries: list[Entry] = field(default_factory=list)  # to apply, in order
    read_states: list[ReadState] = field(default_factory=list)  # ReadIndex results
    soft_state: SoftState | None = None  # set when leader or role changed; informational


@dataclass(slots=True, frozen=True)
class Status:
    id: int
    hard_state: HardState
    soft_state: SoftState
    applied: int
    voters: tuple[int, ...]
    lead_transferee: int
    progress: dict[int, str]  # rendered Progress of each voter, on a leader only


class RawNode:
    def __init__(self, config: Config, storage: Storage) -> None:
        self._raft = Raft(config, storage)
        self._prev_soft = self._raft.soft_state()
        self._prev_hard = self._raft.hard_state()
        # What the outstanding Ready handed out, for advance(): last entry (index, term), snapshot
        # index, last committed index.
        self._outstanding: tuple[tuple[int, int] | None, int, int] | None = None

    @property
    def raft(self) -> Raft:
        """The state machine itself, for status views and tests; drive it only through RawNode."""
        return self._raft

    def bootstrap(self, peers: list[int], contexts: Mapping[int, bytes] | None = None) -> None:
        """Found a new cluster with these voters, on empty storage (see Raft.bootstrap)."""
        self._raft.bootstrap(peers, contexts)

    # -- inputs ------------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._raft.tick()

    def campaign(self) -> None:
        """Start an election now (through PreVote if enabled)."""
        self._raft.step(Message(MessageType.HUP))

    def propose(self, data: bytes) -> None:
        """Propose data for the log; raises ProposalDroppedError if there is no leader to take it."""
        self._raft.step(Message(MessageType.PROP, entries=[Entry(0, 0, EntryType.NORMAL, data)]))

    def propose_batch(self, data: Sequence[bytes]) -> None:
        """Propose several entries as one message: one append and one broadcast for the whole batch.

        All or nothing: ProposalDroppedError means none of them was taken.
        """
        if data:
            entries = [Entry(0, 0, EntryType.NORMAL, item) for item in data]
            self._raft.step(Message(MessageType.PROP, entries=entries))

    def propose_conf_change(self, change: ConfChange) -> None:
        """Propose a membership change. A leader with a change still unapplied turns it into a no-op."""
        self._raft.step(
            Message(MessageType.PROP, entries=[Entry(0, 0, EntryType.CONF_CHANGE, change.encode())])
        )

    def read_index(self, context: bytes) -> None:
        """Ask for a linearizable read point; the answer comes as a ReadState with this context."""
        self._raft.step(Message(MessageType.READ_INDEX, context=context))

    def transfer_leadership(self, target: int) -> None:
        """Ask the leader to hand leadership to target once target's log is caught up."""
        self._raft.step(Message(MessageType.TRANSFER_LEADER, frm=target))

    def step(self, message: Message) -> None:
        """Step a message received from a peer. Local-only kinds are refused.

        A proposal forwarded to us that we cannot take (no leader) is dropped like a lost message.
        """
        if message.type in LOCAL_MESSAGES:
            raise InvariantViolationError(f"{message.type.label} is local and cannot come from a peer")
        if message.frm == NONE:
            raise InvariantViolationError("a peer message needs a sender")
        try:
            self._raft.step(message)
        except ProposalDroppedError:
            return

    def report_snapshot(self, to: int, succeeded: bool) -> None:
        """Tell the leader whether the MsgSnap it emitted for `to` was delivered."""
        self._raft.step(Message(MessageType.SNAP_STATUS, frm=to, reject=not succeeded))

    def report_unreachable(self, to: int) -> None:
        self._raft.step(Message(MessageType.UNREACHABLE, frm=to))

    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Apply a committed conf change (step 2c of the contract); returns the new config."""
        return self._raft.apply_conf_change(change)

    # -- outputs -----------------------------------------------------------------------------------------
    def has_ready(self) -> bool:
        raft = self._raft
        log = raft.log
        soft, hard = self._prev_soft, self._prev_hard
        # Field by field: this runs on every loop iteration of the shell, most often to say no.
        return bool(
            raft.msgs
            or raft.read_states
            or log.unstable.entries
            or log.unstable.snapshot is not None
            or log.has_next_committed_entries()
            or raft.lead != soft.lead
            or raft.role is not soft.role
            or raft.term != hard.term
            or raft.vote != hard.vote
            or log.committed != hard.commit
        )

    def ready(self) -> Ready:
        if self._outstanding is not None:
            raise InvariantViolationError("ready() called again before advance()")
        raft = self._raft
        log = raft.log
        rd = Ready(
            entries=list(log.unstable.entries),
            snapshot=log.unstable.snapshot,
            messages=raft.msgs,
            committed_entries=log.next_committed_entries(),
            read_states=raft.read_states,
        )
        raft.msgs = []
        raft.read_states = []
        soft = raft.soft_state()
        if soft != self._prev_soft:
            rd.soft_state = self._prev_soft = soft
        hard = raft.hard_state()
        if hard != self._prev_hard:
            rd.must_sync = hard.term != self._prev_hard.term or hard.vote != self._prev_hard.vote
            rd.hard_state = self._prev_hard = hard
        rd.must_sync = rd.must_sync or bool(rd.entries) or rd.snapshot is not None
        last_entry = (rd.entries[-1].index, rd.entries[-1].term) if rd.entries else None
        snap_index = rd.snapshot.index if rd.snapshot is not None else 0
        applied = rd.committed_entries[-1].index if rd.committed_entries else 0
        self._outstanding = (last_entry, snap_index, applied)
        return rd

    def advance(self) -> None:
        """The last Ready was handled (persisted, sent, applied)."""
        if self._outstanding is None:
            raise InvariantViolationError("advance() without a Ready")
        last_entry, snap_index, applied = self._outstanding
        self._outstanding = None
        log = self._raft.log
        if snap_index:
            log.unstable.stable_snap_to(snap_index)
            log.applied_to(max(log.applied, snap_index))
        if last_entry is not None:
            log.stable_to(*last_entry)
        if applied:
            log.applied_to(applied)

    def status(self) -> Status:
        raft = self._raft
        is_leader = raft.role is StateRole.LEADER
        progress: dict[int, Progress] = raft.prs if is_leader else {}
        return Status(
            id=raft.id,
            hard_state=raft.hard_state(),
            soft_state=raft.soft_state(),
            applied=raft.log.applied,
            voters=raft.voters,
            lead_transferee=raft.lead_transferee,
            progress={voter: repr(pr) for voter, pr in progress.items()},
        )
