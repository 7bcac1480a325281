"""The Raft state machine (etcd-io/raft's raft.go, written fresh): pure, no I/O, no clock.

Time is `tick()` calls; input is `step(message)`. Output accumulates in `msgs` (to send), `read_states`
(ReadIndex results) and the log (entries to persist, commits to apply), which RawNode packages into a
Ready. Everything here is deterministic given the Config's `rng`.

Role behaviour is swapped, not branched: become_follower/candidate/pre_candidate/leader install the
role's `_step` and `_tick` handlers.

Safety invariants kept here:
- term and vote only change together with a Ready that persists them before any message leaves;
- a leader only counts replicas to commit entries of its own term (Figure 8); it appends an empty entry
  on election so it can commit promptly;
- a committed entry is never truncated (RaftLog raises InvariantViolationError);
- at most one conf change is pending: a new one is refused until the previous one has been applied.
Liveness aids: PreVote (a node that cannot win does not bump terms) and CheckQuorum (a leader steps
down without a live majority; followers that heard from a leader recently ignore (pre)votes, unless the
vote is part of a leadership transfer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from cluster.store.raft.config import Config
from cluster.store.raft.errors import (
    CompactedError,
    InvariantViolationError,
    ProposalDroppedError,
    SnapshotTemporarilyUnavailableError,
    UnavailableError,
)
from cluster.store.raft.log import RaftLog
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
from cluster.store.raft.progress import Progress, ProgressState
from cluster.store.raft.quorum import VoteResult, committed_index, vote_result
from cluster.store.raft.readonly import ReadOnly
from cluster.store.raft.storage import Storage

# Context of a vote that is part of a leadership transfer: it overrides the voters' leader lease.
CAMPAIGN_TRANSFER = b"CampaignTransfer"

_VOTE_RESPONSE = {MessageType.VOTE: MessageType.VOTE_RESP, MessageType.PRE_VOTE: MessageType.PRE_VOTE_RESP}
_VOTE_REQUESTS = frozenset(_VOTE_RESPONSE)
# Election messages carry the term they are about (a pre-vote's is in the future), not the sender's.
_EXPLICIT_TERM = frozenset(
    {MessageType.VOTE, MessageType.PRE_VOTE, MessageType.VOTE_RESP, MessageType.PRE_VOTE_RESP}
)
# Messages that only a leader of the message's term sends: receiving one identifies the leader.
_FROM_LEADER = frozenset({MessageType.APP, MessageType.HEARTBEAT, MessageType.SNAP})
# Messages forwarded to the leader without a term: they are requests, not part of the protocol.
_TERMLESS = frozenset({MessageType.PROP, MessageType.READ_INDEX})


class Raft:
    """One node's Raft state. Not thread-safe; the I/O shell drives it through RawNode."""

    def __init__(self, config: Config, storage: Storage) -> None:
        config.validate()
        self.id = config.id
        self.log = RaftLog(storage)
        self.term = 0
        self.vote = NONE
        self.lead = NONE
        self.role = StateRole.FOLLOWER
        self.election_timeout = config.election_tick
        self.heartbeat_timeout = config.heartbeat_tick
        self.randomized_election_timeout = config.election_tick
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.check_quorum = config.check_quorum
        self.pre_vote = config.pre_vote
        self.max_msg_size = config.max_size_per_msg
        self.max_inflight = config.max_inflight_msgs
        self._rng = config.rng

        hard_state, conf_state = storage.initial_state()
        self.voters: tuple[int, ...] = tuple(sorted(conf_state.voters))
        self.prs: dict[int, Progress] = {}
        self.votes: dict[int, bool] = {}
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.read_only = ReadOnly()
        self.pending_read_index: list[Message] = []
        self.lead_transferee = NONE
        # Index of the latest conf change this leader appended; a new one waits until it is applied.
        self.pending_conf_index = 0
        self._step: Callable[[Message], None] = self._step_follower
        self._tick: Callable[[], None] = self._tick_election

        if hard_state != HardState():
            self._load_state(hard_state)
        if config.applied > 0:
            self.log.applied_to(config.applied)
        self.become_follower(self.term, NONE)

    def _load_state(self, hard_state: HardState) -> None:
        if hard_state.commit > self.log.last_index():
            raise InvariantViolationError(
                f"persisted commit {hard_state.commit} beyond last index {self.log.last_index()}"
            )
        self.log.committed = max(self.log.committed, hard_state.commit)
        self.term = hard_state.term
        self.vote = hard_state.vote

    def bootstrap(self, peers: list[int], contexts: Mapping[int, bytes] | None = None) -> None:
        """Found a new cluster: the members become committed ADD_NODE entries 1..n of term 1.

        Keeping the initial config in the log (as etcd does) lets a node that later joins empty rebuild
        every config by replaying from index 1. The application applies these entries like any other;
        `contexts` gives each founding member's ConfChange.context (the application's data about it).
        """
        if self.log.last_index() != 0 or self.term != 0:
            raise InvariantViolationError("bootstrap needs empty storage")
        self.become_follower(1, NONE)
        contexts = contexts or {}
        changes = [ConfChange(ConfChangeType.ADD_NODE, peer, contexts.get(peer, b"")) for peer in peers]
        self.log.append(
            [Entry(1, k + 1, EntryType.CONF_CHANGE, change.encode()) for k, change in enumerate(changes)]
        )
        self.log.commit_to(len(changes))
        for change in changes:
            self.apply_conf_change(change)

    # -- observable state --------------------------------------------------------------------------------
    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def soft_state(self) -> SoftState:
        return SoftState(self.lead, self.role)

    def conf_state(self) -> ConfState:
        return ConfState(self.voters)

    def promotable(self) -> bool:
        return self.id in self.voters

    # -- role transitions --------------------------------------------------------------------------------
    def _reset(self, term: int) -> None:
        if term != self.term:
            self.term = term
            self.vote = NONE
        self.lead = NONE
        self.election_elapsed = 0
        self.heartbeat_elapsed = 0
        self.randomized_election_timeout = self.election_timeout + self._rng.randrange(self.election_timeout)
        self.lead_transferee = NONE
        self.votes = {}
        self.read_only = ReadOnly()
        self.pending_read_index = []
        self.pending_conf_index = 0
        last = self.log.last_index()
        self.prs = {v: Progress(0, last + 1, self.max_inflight) for v in self.voters}
        own = self.prs.get(self.id)
        if own is not None:
            own.match = last

    def become_follower(self, term: int, lead: int) -> None:
        self._reset(term)
        self._step = self._step_follower
        self._tick = self._tick_election
        self.lead = lead
        self.role = StateRole.FOLLOWER

    def become_pre_candidate(self) -> None:
        # Unlike a real candidate, a pre-candidate changes neither term nor vote.
        if self.role is StateRole.LEADER:
            raise InvariantViolationError("leader cannot become pre-candidate")
        self._step = self._step_candidate
        self._tick = self._tick_election
        self.votes = {}
        self.lead = NONE
        self.role = StateRole.PRE_CANDIDATE

    def become_candidate(self) -> None:
        if self.role is StateRole.LEADER:
            raise InvariantViolationError("leader cannot become candidate")
        self._reset(self.term + 1)
        self._step = self._step_candidate
        self._tick = self._tick_election
        self.vote = self.id
        self.role = StateRole.CANDIDATE

    def become_leader(self) -> None:
        if self.role is StateRole.FOLLOWER:
            raise InvariantViolationError("follower cannot become leader without an election")
        self._reset(self.term)
        self._step = self._step_leader
        self._tick = self._tick_heartbeat
        self.lead = self.id
        self.role = StateRole.LEADER
        self.prs[self.id].become_replicate()
        # Conf changes in the log we inherit may be unapplied: hold new ones until all of it is applied.
        self.pending_conf_index = self.log.last_index()
        self._append_entries([Entry(0, 0)])

    # -- ticking -----------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._tick()

    def _tick_election(self) -> None:
        self.election_elapsed += 1
        if self.promotable() and self.election_elapsed >= self.randomized_election_timeout:
            self.election_elapsed = 0
            self.step(Message(MessageType.HUP, frm=self.id))

    def _tick_heartbeat(self) -> None:
        self.heartbeat_elapsed += 1
        self.election_elapsed += 1
        if self.election_elapsed >= self.election_timeout:
            self.election_elapsed = 0
            if self.check_quorum:
                self.step(Message(MessageType.CHECK_QUORUM, frm=self.id))
            # A transfer that did not finish within an election timeout is abandoned.
            if self.role is StateRole.LEADER:
                self.lead_transferee = NONE
        if self.role is not StateRole.LEADER:
            return
        if self.heartbeat_elapsed >= self.heartbeat_timeout:
            self.heartbeat_elapsed = 0
            self.step(Message(MessageType.BEAT, frm=self.id))

    # -- stepping ----------------------------------------------------------------------------------------
    def step(self, m: Message) -> None:
        """Handle one message; raises ProposalDroppedError for requests this node cannot accept now."""
        if m.term > self.term:
            if m.type in _VOTE_REQUESTS:
                in_lease = (
                    self.check_quorum and self.lead != NONE and self.election_elapsed < self.election_timeout
                )
                if in_lease and m.context != CAMPAIGN_TRANSFER:
                    # We heard from a leader within the minimum election timeout: do not let a
                    # partitioned or removed node disrupt it.
                    return
            if m.type is MessageType.PRE_VOTE:
                pass  # a pre-vote never changes our term
            elif m.type is MessageType.PRE_VOTE_RESP and not m.reject:
                pass  # granted pre-votes carry the future term; we move to it once we have a quorum
            elif m.type in _FROM_LEADER:
                self.become_follower(m.term, m.frm)
            else:
                self.become_follower(m.term, NONE)
        elif m.term < self.term and m.term != 0:
            if (self.check_quorum or self.pre_vote) and m.type in (MessageType.HEARTBEAT, MessageType.APP):
                # A stale leader (e.g. back from a partition) learns our term from this and steps down;
                # without it, with PreVote it could never learn, and we could never elect it again.
                self._send(Message(MessageType.APP_RESP, to=m.frm))
            elif m.type is MessageType.PRE_VOTE:
                self._send(Message(MessageType.PRE_VOTE_RESP, to=m.frm, term=self.term, reject=True))
            return

        if m.type is MessageType.HUP:
            self._hup(transfer=False)
        elif m.type in _VOTE_REQUESTS:
            self._handle_vote_request(m)
        else:
            self._step(m)

    def _handle_vote_request(self, m: Message) -> None:
        can_vote = (
            self.vote == m.frm
            or (self.vote == NONE and self.lead == NONE)
            or (m.type is MessageType.PRE_VOTE and m.term > self.term)
        )
        response = _VOTE_RESPONSE[m.type]
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            # The granted response carries the request's term so a pre-candidate can count it.
            self._send(Message(response, to=m.frm, term=m.term))
            if m.type is MessageType.VOTE:
                self.election_elapsed = 0
                self.vote = m.frm
        else:
            self._send(Message(response, to=m.frm, term=self.term, reject=True))

    def _hup(self, transfer: bool) -> None:
        if self.role is StateRole.LEADER or not self.promotable() or self._has_unapplied_conf_change():
            return
        self._campaign(pre=self.pre_vote and not transfer, transfer=transfer)

    def _has_unapplied_conf_change(self) -> bool:
        # Campaigning with a config that committed entries are about to change could use a stale quorum.
        lo = max(self.log.applied + 1, self.log.first_index())
        if self.log.committed < lo:
            return False
        return any(e.type is EntryType.CONF_CHANGE for e in self.log.slice(lo, self.log.committed + 1))

    def _campaign(self, pre: bool, transfer: bool) -> None:
        if pre:
            self.become_pre_candidate()
            vote_type, term = MessageType.PRE_VOTE, self.term + 1
        else:
            self.become_candidate()
            vote_type, term = MessageType.VOTE, self.term
        if self._poll(self.id, True) is VoteResult.WON:
            # A single-voter cluster wins on its own vote.
            if pre:
                self._campaign(pre=False, transfer=transfer)
            else:
                self.become_leader()
            return
        last_index = self.log.last_index()
        last_term = self.log.term(last_index)
        context = CAMPAIGN_TRANSFER if transfer else b""
        for voter in self.voters:
            if voter != self.id:
                self._send(
                    Message(
                        vote_type, to=voter, term=term, index=last_index, log_term=last_term, context=context
                    )
                )

    def _poll(self, voter: int, granted: bool) -> VoteResult:
        self.votes.setdefault(voter, granted)
        return vote_result(self.voters, self.votes)

    # -- follower ----------------------------------------------------------------------------------------
    def _step_follower(self, m: Message) -> None:
        kind = m.type
        if kind is MessageType.APP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_append(m)
        elif kind is MessageType.HEARTBEAT:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_heartbeat(m)
        elif kind is MessageType.SNAP:
            self.election_elapsed = 0
            self.lead = m.frm
            self._handle_snapshot(m)
        elif kind in (MessageType.PROP, MessageType.TRANSFER_LEADER, MessageType.READ_INDEX):
            if self.lead == NONE:
                raise ProposalDroppedError(f"{kind.label} dropped: no leader at term {self.term}")
            # Forward a copy: the incoming message may be shared (a duplicated delivery).
            self._send(replace(m, to=self.lead))
        elif kind is MessageType.TIMEOUT_NOW:
            # The leader hands over: campaign at once, skipping PreVote and the voters' lease.
            self._hup(transfer=True)
        elif kind is MessageType.READ_INDEX_RESP:
            self.read_states.append(ReadState(m.index, m.context))

    def _handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self._send(Message(MessageType.APP_RESP, to=m.frm, index=self.log.committed))
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self._send(Message(MessageType.APP_RESP, to=m.frm, index=last_new))
            return
        # Consistency check failed. Hint where our log may match the leader's, skipping whole terms
        # of entries the leader cannot have (its entry at m.index has term m.log_term).
        hint = min(m.index, self.log.last_index())
        hint_index, hint_term = self.log.find_conflict_by_term(hint, m.log_term)
        self._send(
            Message(
                MessageType.APP_RESP,
                to=m.frm,
                index=m.index,
                reject=True,
                reject_hint=hint_index,
                log_term=hint_term,
            )
        )

    def _handle_heartbeat(self, m: Message) -> None:
        self.log.commit_to(m.commit)
        self._send(Message(MessageType.HEARTBEAT_RESP, to=m.frm, context=m.context))

    def _handle_snapshot(self, m: Message) -> None:
        if m.snapshot is not None and self._restore(m.snapshot):
            self._send(Message(MessageType.APP_RESP, to=m.frm, index=self.log.last_index()))
        else:
            self._send(Message(MessageType.APP_RESP, to=m.frm, index=self.log.committed))

    def _restore(self, snapshot: Snapshot) -> bool:
        """Adopt a snapshot newer than our commit index; False if we already have it.

        The snapshot's config may not list us yet (we are being added by a later conf change): we
        then follow without campaigning until that change is applied.
        """
        if snapshot.index <= self.log.committed:
            return False
        if self.log.match_term(snapshot.index, snapshot.term):
            # Our log already holds the snapshot's last entry: just fast-forward the commit.
            self.log.commit_to(snapshot.index)
            return False
        self.log.restore(snapshot)
        self.voters = tuple(sorted(snapshot.conf_state.voters))
        last = self.log.last_index()
        self.prs = {v: Progress(0, last + 1, self.max_inflight) for v in self.voters}
        return True

    # -- candidate and pre-candidate ---------------------------------------------------------------------
    def _step_candidate(self, m: Message) -> None:
        kind = m.type
        own_response = (
            MessageType.PRE_VOTE_RESP if self.role is StateRole.PRE_CANDIDATE else MessageType.VOTE_RESP
        )
        if kind is MessageType.PROP:
            raise ProposalDroppedError(f"proposal dropped: no leader at term {self.term}")
        if kind in _FROM_LEADER:
            # A leader exists for this term (or a later one): follow it.
            self.become_follower(m.term, m.frm)
            self._step_follower(m)
        elif kind is own_response:
            result = self._poll(m.frm, not m.reject)
            if result is VoteResult.WON:
                if self.role is StateRole.PRE_CANDIDATE:
                    self._campaign(pre=False, transfer=False)
                else:
                    self.become_leader()
                    self._bcast_append()
            elif result is VoteResult.LOST:
                self.become_follower(self.term, NONE)
        elif kind in (MessageType.TRANSFER_LEADER, MessageType.READ_INDEX):
            raise ProposalDroppedError(f"{kind.label} dropped: no leader at term {self.term}")

    # -- leader ------------------------------------------------------------------------------------------
    def _step_leader(self, m: Message) -> None:
        kind = m.type
        if kind is MessageType.BEAT:
            self._bcast_heartbeat(self.read_only.last_pending_context())
        elif kind is MessageType.CHECK_QUORUM:
            self._check_quorum()
        elif kind is MessageType.PROP:
            self._propose(m)
        elif kind is MessageType.READ_INDEX:
            self._read_index(m)
        elif kind is MessageType.TRANSFER_LEADER:
            self._transfer_leader(m.frm)
        else:
            pr = self.prs.get(m.frm)
            if pr is None:
                return  # a node outside the config (e.g. just removed)
            if kind is MessageType.APP_RESP:
                self._handle_append_response(m, pr)
            elif kind is MessageType.HEARTBEAT_RESP:
                self._handle_heartbeat_response(m, pr)
            elif kind is MessageType.SNAP_STATUS:
                self._handle_snap_status(m, pr)
            elif kind is MessageType.UNREACHABLE and pr.state is ProgressState.REPLICATE:
                # Entries sent optimistically were probably lost: probe again.
                pr.become_probe()

    def _check_quorum(self) -> None:
        active = {voter: pr.recent_active for voter, pr in self.prs.items()}
        active[self.id] = True
        if vote_result(self.voters, active) is not VoteResult.WON:
            self.become_follower(self.term, NONE)
            return
        for voter, pr in self.prs.items():
            if voter != self.id:
                pr.recent_active = False

    def _propose(self, m: Message) -> None:
        if self.id not in self.prs:
            raise ProposalDroppedError("proposal dropped: this leader is no longer a member")
        if self.lead_transferee != NONE:
            raise ProposalDroppedError(f"proposal dropped: transferring leadership to {self.lead_transferee}")
        entries = []
        for offset, entry in enumerate(m.entries):
            if entry.type is EntryType.CONF_CHANGE:
                if self.pending_conf_index > self.log.applied:
                    # One change at a time: keep the slot (the proposer sees a no-op applied).
                    entry = Entry(0, 0)
                else:
                    self.pending_conf_index = self.log.last_index() + offset + 1
            entries.append(entry)
        self._append_entries(entries)
        self._bcast_append()

    def _append_entries(self, entries: list[Entry]) -> None:
        first = self.log.last_index() + 1
        # Fresh objects: entries in messages may be shared (duplicated deliveries, proposals).
        last = self.log.append([Entry(self.term, first + k, e.type, e.data) for k, e in enumerate(entries)])
        self.prs[self.id].maybe_update(last)
        self._maybe_commit()

    def _maybe_commit(self) -> bool:
        index = committed_index(self.voters, {voter: pr.match for voter, pr in self.prs.items()})
        return self.log.maybe_commit(index, self.term)

    def _committed_in_current_term(self) -> bool:
        return self.log.term(self.log.committed) == self.term

    def _send_append(self, to: int, send_if_empty: bool = True) -> bool:
        """Send the entries `to` lacks (or a snapshot); False if nothing was sent."""
        pr = self.prs[to]
        if pr.is_paused():
            return False
        prev_index = pr.next - 1
        try:
            prev_term = self.log.checked_term(prev_index)
            if pr.state is ProgressState.REPLICATE and pr.inflights.full():
                entries: list[Entry] = []  # only an empty MsgApp, to keep acks (and so the window) moving
            else:
                entries = self.log.entries(pr.next, self.max_msg_size)
        except (CompactedError, UnavailableError):
            return self._send_snapshot(to, pr)
        if not entries and not send_if_empty:
            return False
        self._send(
            Message(
                MessageType.APP,
                to=to,
                index=prev_index,
                log_term=prev_term,
                entries=entries,
                commit=self.log.committed,
            )
        )
        pr.sent_entries(len(entries), entries[-1].index if entries else prev_index)
        return True

    def _send_snapshot(self, to: int, pr: Progress) -> bool:
        if not pr.recent_active:
            return False  # don't ship a snapshot to a node that may be down
        try:
            snapshot = self.log.snapshot()
        except SnapshotTemporarilyUnavailableError:
            return False
        if snapshot.index == 0:
            raise InvariantViolationError("log compacted but storage has no snapshot")
        pr.become_snapshot(snapshot.index)
        self._send(Message(MessageType.SNAP, to=to, snapshot=snapshot))
        return True

    def _bcast_append(self) -> None:
        for voter in self.prs:
            if voter != self.id:
                self._send_append(voter)

    def _bcast_heartbeat(self, context: bytes) -> None:
        committed = self.log.committed
        for voter, pr in self.prs.items():
            if voter != self.id:
                # Never advance a follower's commit past what it is known to hold.
                self._send(
                    Message(MessageType.HEARTBEAT, to=voter, commit=min(pr.match, committed), context=context)
                )

    def _handle_append_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                # The follower's log has term m.log_term at the hint: skip our entries of later terms.
                next_probe, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decr_to(m.index, next_probe):
                if pr.state is ProgressState.REPLICATE:
                    pr.become_probe()
                self._send_append(m.frm)
            return
        was_paused = pr.is_paused()
        if not (pr.maybe_update(m.index) or (pr.match == m.index and pr.state is ProgressState.PROBE)):
            return
        if pr.state is ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state is ProgressState.SNAPSHOT and pr.match + 1 >= self.log.first_index():
            # The follower caught up past our compaction point (by the snapshot or otherwise).
            pr.become_probe()
            pr.become_replicate()
        elif pr.state is ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        if self._maybe_commit():
            self._release_pending_read_index()
            self._bcast_append()
        elif was_paused:
            self._send_append(m.frm)
        while self._send_append(m.frm, send_if_empty=False):
            pass
        if m.frm == self.lead_transferee and pr.match == self.log.last_index():
            self._send(Message(MessageType.TIMEOUT_NOW, to=m.frm))

    def _handle_heartbeat_response(self, m: Message, pr: Progress) -> None:
        pr.recent_active = True
        pr.msg_app_flow_paused = False
        if pr.match < self.log.last_index() or pr.state is ProgressState.PROBE:
            self._send_append(m.frm)
        if not m.context:
            return
        acks = self.read_only.recv_ack(m.frm, m.context)
        if acks is None or vote_result(self.voters, acks) is not VoteResult.WON:
            return
        for status in self.read_only.advance(m.context):
            self._answer_read_index(status.request, status.index)

    def _handle_snap_status(self, m: Message, pr: Progress) -> None:
        if pr.state is not ProgressState.SNAPSHOT:
            return
        if m.reject:
            pr.pending_snapshot = 0
        pr.become_probe()
        # Wait for the follower's answer (or a heartbeat response) before probing.
        pr.msg_app_flow_paused = True

    def _read_index(self, m: Message) -> None:
        if self.voters == (self.id,):
            self._answer_read_index(m, self.log.committed)
        elif not self._committed_in_current_term():
            # Our commit index may lag the previous leader's until we commit in our own term.
            self.pending_read_index.append(m)
        else:
            self._confirm_read_index(m)

    def _confirm_read_index(self, m: Message) -> None:
        self.read_only.add_request(self.log.committed, m)
        self.read_only.recv_ack(self.id, m.context)
        self._bcast_heartbeat(m.context)

    def _release_pending_read_index(self) -> None:
        if not self.pending_read_index or not self._committed_in_current_term():
            return
        pending, self.pending_read_index = self.pending_read_index, []
        for m in pending:
            self._confirm_read_index(m)

    def _answer_read_index(self, request: Message, index: int) -> None:
        if request.frm in (NONE, self.id):
            self.read_states.append(ReadState(index, request.context))
        else:
            self._send(
                Message(MessageType.READ_INDEX_RESP, to=request.frm, index=index, context=request.context)
            )

    def _transfer_leader(self, target: int) -> None:
        if target == self.id or target not in self.prs or target == self.lead_transferee:
            return
        # The transfer must finish within one election timeout, else it is abandoned (see tick).
        self.election_elapsed = 0
        self.lead_transferee = target
        if self.prs[target].match == self.log.last_index():
            self._send(Message(MessageType.TIMEOUT_NOW, to=target))
        else:
            self._send_append(target)

    # -- configuration -----------------------------------------------------------------------------------
    def apply_conf_change(self, change: ConfChange) -> ConfState:
        """Apply a committed conf change entry; returns the new configuration."""
        voters = set(self.voters)
        if change.type is ConfChangeType.ADD_NODE:
            voters.add(change.node_id)
        else:
            voters.discard(change.node_id)
        self.voters = tuple(sorted(voters))
        # A new member is probed with our last entry, so the leader contacts it at once.
        probe_from = max(self.log.last_index(), 1)
        old = self.prs
        self.prs = {v: old.get(v) or Progress(0, probe_from, self.max_inflight) for v in self.voters}
        if self.role is StateRole.LEADER:
            self._leader_after_conf_change()
        return self.conf_state()

    def _leader_after_conf_change(self) -> None:
        if self.id not in self.voters:
            # Removed: step down so the remaining voters elect a leader among themselves.
            self.become_follower(self.term, NONE)
            return
        if self.lead_transferee not in self.prs:
            self.lead_transferee = NONE
        # A smaller config may commit more; a new member needs its first entries.
        if self._maybe_commit():
            self._bcast_append()
        else:
            for voter in self.prs:
                if voter != self.id:
                    self._send_append(voter, send_if_empty=False)

    # -- output ------------------------------------------------------------------------------------------
    def _send(self, m: Message) -> None:
        if m.frm == NONE:
            m.frm = self.id
        if m.type not in _EXPLICIT_TERM and m.type not in _TERMLESS:
            m.term = self.term
        self.msgs.append(m)
