"""The Replicator over Raft: the I/O shell that drives a RawNode on the event loop.

Loops (owned by `run()`'s TaskGroup):

- tick: `RawNode.tick()` every `tick_interval` seconds (elections after `election_ticks` silent
  ticks, heartbeats every `heartbeat_ticks`); ticks missed while the loop was busy are skipped.
- ready: whenever woken (a proposal, a message from a peer, a tick), and after a short linger
  if the replica is CPU-bound (pacing.py: many small Readies cost far more than few large ones),
  hand waiting proposals to Raft as one batch, then for every Ready, in the order of the
  RawNode contract: write snapshot, entries and hard state to DiskStorage and make them durable
  with ONE fsync (in a worker thread, while the loop goes on accepting proposals and messages:
  they form the next Ready, which is group commit); send the messages (a leader sends them
  before its fsync, as etcd does: see `_handle`); restore a snapshot and apply committed entries
  to the state machine and member table; report them to `on_applied`; resolve the proposers
  waiting on this replica; serve ReadIndex results; advance. Then maybe snapshot and compact.
- the peer transport's senders (transport.py), and the publication of this member's name and
  client URL through the log (etcd's publish).

Proposals: `propose` may be called on any member. The entry gets a cluster-unique request ID
(request_ids.py) and waits in `Proposals` (proposals.py) until the ready loop proposes it (a
follower's Raft forwards it to the leader); every replica applies every entry, and the one that
holds the waiter answers its client. Within `request_timeout`, or NoLeader (never proposed),
RequestTimedOut or LeaderChanged (handed to a leader that lost office: may or may not happen).

Reads: `read_barrier(False)` is a ReadIndex round (read_index.py), batched across readers;
`read_barrier(True)` returns at once (serializable, possibly stale).

Snapshots: every `snapshot_every` applied entries the state machine and member table are saved
as a Raft snapshot and the log is compacted `catchup_entries` behind it; a follower behind the
leader's first index receives the snapshot (MsgSnap) and restores from it (`on_restored`).

Leadership: `on_leadership(True/False)` when this replica becomes or stops being leader (the
node starts and stops lease expiry there). A one-member cluster campaigns at once on start.

Failure: an exception in a loop (a failed fsync: the data may not be on disk, so it is never
retried) ends `run()`; every waiting request then fails with Stopped. A replica removed from
the cluster stops the same way, cleanly. Concurrency: event-loop only, except DiskStorage.sync()
in one dedicated thread, during which the ready loop writes nothing to storage; `close()` waits
for a sync still running there before it closes the files.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import grpc

from cluster.store.errors import (
    BadLeaderTransferee,
    LeaderTransferTimedOut,
    NoLeader,
    NotLeader,
    RequestTimedOut,
    Stopped,
    StoreError,
    Unavailable,
)
from cluster.store.mvcc.state_machine import Response, StateMachine
from cluster.store.raft import (
    NONE,
    ConfChange,
    ConfChangeType,
    Config,
    Entry,
    EntryType,
    Message,
    RawNode,
    Ready,
    Snapshot,
    StateRole,
)
from cluster.store.replication.disk_sync import DiskSyncer
from cluster.store.replication.faults import Faults
from cluster.store.replication.members import Members, member_change
from cluster.store.replication.pacing import Pacer, PacingOptions
from cluster.store.replication.proposals import Outcome, Proposals
from cluster.store.replication.raft_storage import DiskStorage
from cluster.store.replication.read_index import ReadIndex
from cluster.store.replication.replicator import Applied, OnApplied, ReplicatorStatus
from cluster.store.replication.request_ids import RequestIds
from cluster.store.replication.transport import PeerTransport, TransportOptions
from cluster.store.replication.wal import DEFAULT_SEGMENT_BYTES
from cluster.supervision import run_forever
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RaftOptions:
    tick_interval: float = 0.1  # seconds per Raft tick
    election_ticks: int = 10
    heartbeat_ticks: int = 1
    request_timeout: float = 7.0  # seconds a request may wait for a leader and its commit
    snapshot_every: int = 10_000  # applied entries between snapshots (etcd's --snapshot-count)
    catchup_entries: int = 5_000  # entries kept behind a snapshot for followers that lag a little
    segment_bytes: int = DEFAULT_SEGMENT_BYTES
    fsync: Callable[[int], None] = os.fsync
    transport: TransportOptions = field(default_factory=TransportOptions)
    pacing: PacingOptions = field(default_factory=PacingOptions)


class RaftReplicator:
    def __init__(
        self,
        node: RawNode,
        storage: DiskStorage,
        machine: StateMachine,
        members: Members,
        *,
        member_id: int,
        cluster_id: int,
        hints: Mapping[int, str],
        faults: Faults,
        options: RaftOptions,
    ) -> None:
        """Use `RaftReplicator.open`."""
        self.machine = machine
        self.members = members
        self.member_id = member_id
        self._node = node
        self._storage = storage
        self._disk = ThreadPoolExecutor(1, thread_name_prefix="raft-disk")  # storage.sync(), one at a time
        self._sync = DiskSyncer(storage.sync, self._disk)
        self._hints = dict(hints)
        self._options = options
        snap = storage.snapshot()
        self._applied = snap.index
        self._snapshot_index = snap.index
        hard_state, self._conf_state = storage.initial_state()
        self._durable_vote = (hard_state.term, hard_state.vote)  # as on disk
        self._ids = RequestIds(member_id)
        self._wake = asyncio.Event()
        self._proposals = Proposals(options.request_timeout, self._wake.set)
        self._reads = ReadIndex(retry_ticks=options.election_ticks)
        self._reads.applied_to(self._applied)
        self._pacer = Pacer(options.pacing)
        self._leader_event = asyncio.Event()  # set and replaced whenever the leader changes
        self._stop = asyncio.Event()
        self._stopping = False
        self._lead = NONE
        self.removed = False
        self.snapshots_received = 0  # restores from a leader's snapshot (MsgSnap), since start
        self.transport = PeerTransport(cluster_id, self._resolve, self, faults, options.transport)
        self.on_applied: OnApplied = lambda batch: None
        self.on_restored: Callable[[], None] = lambda: None
        self.on_leadership: Callable[[bool], None] = lambda leading: None

    @classmethod
    def open(
        cls,
        data_dir: Path,
        *,
        member_id: int,
        cluster_id: int,
        founders: Mapping[int, rpc_pb2.Member] | None = None,
        hints: Mapping[int, str] | None = None,
        faults: Faults | None = None,
        options: RaftOptions | None = None,
    ) -> RaftReplicator:
        """Recover from `data_dir`; a new cluster's founders bootstrap it on empty storage.

        `founders` (member ID -> member): the initial members if this replica founds the cluster;
        None for one that joins an existing cluster (it starts empty and learns everything from
        the leader). `hints`: peer addresses to use until the member table knows better.
        """
        options = options or RaftOptions()
        storage = DiskStorage.open(data_dir, segment_bytes=options.segment_bytes, fsync=options.fsync)
        snap = storage.snapshot()
        machine, members = StateMachine(), Members()
        if snap.index:
            state = store_pb2.ReplicaState.FromString(snap.data)
            machine, members = StateMachine.restore(state.machine), Members(state.members)
        config = Config(
            id=member_id,
            election_tick=options.election_ticks,
            heartbeat_tick=options.heartbeat_ticks,
            applied=snap.index,
            rng=random.Random(),  # replicas must not share election timeouts
        )
        node = RawNode(config, storage)
        if founders and storage.last_index() == 0:
            node.bootstrap(sorted(founders), {i: member_change(0, m) for i, m in founders.items()})
        return cls(
            node,
            storage,
            machine,
            members,
            member_id=member_id,
            cluster_id=cluster_id,
            hints=hints or {},
            faults=faults or Faults(),
            options=options,
        )

    # -- Replicator ------------------------------------------------------------------------------------
    async def propose(self, entry: store_pb2.Entry) -> Response:
        entry.id = self._ids.next()
        outcome = await self._proposals.submit(entry.id, entry.SerializeToString())
        assert outcome is not None, entry
        return outcome

    async def read_barrier(self, serializable: bool) -> None:
        if serializable:
            return
        if self._stopping:
            raise Stopped()
        try:
            async with asyncio.timeout(self._options.request_timeout):
                round_ = self._reads.join()
                self._wake.set()
                index = await asyncio.shield(round_)
                await self._reads.wait_applied(index)
        except TimeoutError:
            raise NoLeader() if self._lead == NONE else RequestTimedOut() from None

    def status(self) -> ReplicatorStatus:
        raft = self._node.raft
        return ReplicatorStatus(
            member_id=self.member_id,
            leader_id=raft.lead,
            term=raft.term,
            commit_index=raft.log.committed,
            applied_index=self._applied,
        )

    # -- more than the Replicator protocol: leadership and membership ------------------------------------
    @property
    def is_leader(self) -> bool:
        return self._node.raft.role is StateRole.LEADER

    @property
    def voters(self) -> tuple[int, ...]:
        return self._conf_state.voters

    async def leader(self) -> int:
        """The leader's member ID, waiting up to the request timeout for one (else NoLeader)."""
        try:
            async with asyncio.timeout(self._options.request_timeout):
                while self._lead == NONE:
                    await self._leader_event.wait()
        except TimeoutError:
            raise NoLeader() from None
        return self._lead

    async def at_leader(
        self,
        here: Callable[[], Awaitable[T]],
        there: Callable[[store_pb2_grpc.StorePeerStub, float], Awaitable[T]],
    ) -> T:
        """Serve a request on the leader: `here()` if this replica leads, else `there(stub, timeout)`.

        `there` calls the leader over its peer channel. A failed call (the leader died or just lost
        leadership) is retried with whoever leads next, until the request timeout: RequestTimedOut.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._options.request_timeout
        while True:
            leader = await self.leader()
            if leader == self.member_id:
                return await here()
            stub = self.transport.stub(leader)
            remaining = deadline - loop.time()
            if stub is not None and remaining > 0:
                try:
                    return await there(stub, remaining)
                except grpc.aio.AioRpcError as err:
                    log.info("call to leader %x failed (%s): retrying", leader, err.code().name)
            if loop.time() >= deadline:
                raise RequestTimedOut()
            await asyncio.sleep(self._options.tick_interval)

    async def transfer_leadership(self, target: int) -> None:
        """On the leader: hand leadership to `target` and wait until it has taken over."""
        if not self.is_leader:
            raise NotLeader()
        if target not in self._conf_state.voters:
            raise BadLeaderTransferee()
        self._node.transfer_leadership(target)
        self._wake.set()
        try:
            async with asyncio.timeout(self._options.request_timeout):
                while self._lead != target:
                    await self._leader_event.wait()
        except TimeoutError:
            raise LeaderTransferTimedOut() from None

    async def change_membership(self, kind: ConfChangeType, member: rpc_pb2.Member) -> None:
        """Add or remove one voting member through the log; returns once applied here."""
        request_id = self._ids.next()
        change = ConfChange(kind, member.ID, member_change(request_id, member))
        await self._proposals.submit(request_id, change)

    async def publish(self, name: str, client_urls: list[str]) -> None:
        """Record this member's name and client URLs in the member table (retrying until done)."""
        attributes = rpc_pb2.Member(ID=self.member_id, name=name, clientURLs=client_urls)
        while not self._stopping:
            current = self.members.get(self.member_id)
            if current is not None and current.name == name and list(current.clientURLs) == client_urls:
                return
            if current is not None:
                entry = store_pb2.Entry(id=self._ids.next(), member_attributes=attributes)
                try:
                    await self._proposals.submit(entry.id, entry.SerializeToString())
                    continue
                except Stopped:
                    return  # the replicator stops: nothing left to publish to
                except Unavailable:
                    pass  # no leader yet, or a leader change (its outcome unknown): look again
            # Not a member yet (a new member catching up), or no leader: wait a little.
            await asyncio.sleep(self._options.tick_interval * self._options.election_ticks)

    # -- from the transport ------------------------------------------------------------------------------
    def step(self, messages: list[Message]) -> None:
        """Messages received from peers (the StorePeer servicer calls this)."""
        if self._stopping:
            return
        node = self._node
        for m in messages:
            if m.to == self.member_id:
                node.step(m)
        self._wake.set()

    def report_unreachable(self, peer: int) -> None:
        if not self._stopping:
            self._node.report_unreachable(peer)
            self._wake.set()

    def report_snapshot(self, peer: int, succeeded: bool) -> None:
        if not self._stopping:
            self._node.report_snapshot(peer, succeeded)
            self._wake.set()

    def _resolve(self, peer: int) -> str | None:
        return self.members.peer_address(peer) or self._hints.get(peer)

    # -- the loops -------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Drive Raft until `stop()`, removal from the cluster, or a failure (which propagates)."""
        try:
            async with asyncio.TaskGroup() as tasks:
                others = [
                    run_forever(tasks, "raft tick", self._tick_loop()),
                    run_forever(tasks, "raft transport", self.transport.run()),
                ]
                ready = tasks.create_task(self._ready_loop(), name="raft ready")
                stop = tasks.create_task(self._stop.wait())
                await asyncio.wait({ready, stop}, return_when=asyncio.FIRST_COMPLETED)
                # The ready loop ends only between Readies (never during a sync in its thread).
                self._stopping = True
                self._wake.set()
                await ready
                for task in (*others, stop):
                    task.cancel()
        except BaseExceptionGroup as group:
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None  # e.g. the OSError of a failed fsync, as it was
            raise
        finally:
            self._stopping = True
            self._fail_waiting()

    def stop(self) -> None:
        """Ask `run()` to finish the Ready in hand and return."""
        self._stop.set()

    def close(self) -> None:
        """Close the log files; call after `run()` has returned."""
        self._disk.shutdown(wait=True)  # a sync() still running in its thread finishes first
        self._storage.close()

    async def _tick_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._options.tick_interval
        deadline = loop.time()
        while True:
            deadline = max(deadline + interval, loop.time())
            await asyncio.sleep(deadline - loop.time())
            self._node.tick()
            self._reads.tick(self._node)
            self._wake.set()

    async def _ready_loop(self) -> None:
        node = self._node
        while not self._stopping:
            await self._wake.wait()
            await self._pace()
            self._wake.clear()
            self._hand_over()
            while node.has_ready() and not self._stopping:
                await self._handle(node.ready())
                node.advance()
                if node.raft.lead == NONE and self._conf_state.voters == (self.member_id,):
                    node.campaign()  # alone: no need to wait an election timeout
                self._hand_over()
            if self.removed:
                log.warning("member %x was removed from the cluster: stopping", self.member_id)
                return

    async def _pace(self) -> None:
        """Time one trip round the event loop; while the replica is busy, let the Ready grow."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.sleep(0)
        delay = self._pacer.linger(loop.time() - started)
        if delay:
            await asyncio.sleep(delay)

    def _hand_over(self) -> None:
        """Give Raft the proposals and the read round that wait (if a leader is known)."""
        self._proposals.hand_over(self._node)
        self._reads.issue(self._node)

    async def _handle(self, rd: Ready) -> None:
        storage = self._storage
        hard_state = rd.hard_state
        # A leader that changed neither term nor vote sends before it persists (etcd does too):
        # its messages promise nothing about its own disk. A commit index counting its own
        # unsynced entries is only disclosed (in messages, by applying) in a later Ready, taken
        # after this one's fsync.
        early = (
            rd.snapshot is None
            and self._node.raft.role is StateRole.LEADER
            and (hard_state is None or (hard_state.term, hard_state.vote) == self._durable_vote)
        )
        if early and rd.messages:
            self.transport.send(rd.messages)
        if rd.snapshot is not None:
            storage.apply_snapshot(rd.snapshot)
        storage.append(rd.entries)
        if hard_state is not None:
            storage.set_hard_state(hard_state)
        if rd.must_sync or storage.has_pending_files:
            await self._sync()
        if hard_state is not None:
            self._durable_vote = (hard_state.term, hard_state.vote)
        if not early and rd.messages:
            self.transport.send(rd.messages)
        if rd.snapshot is not None:
            self._restore(rd.snapshot)
        if rd.committed_entries:
            self._apply(rd.committed_entries)
        if rd.read_states:
            self._reads.answered(rd.read_states)
        if rd.soft_state is not None:
            self._leader_changed(rd.soft_state.lead)
        if self._applied - self._snapshot_index >= self._options.snapshot_every:
            await self._snapshot()

    def _apply(self, entries: list[Entry]) -> None:
        machine = self.machine
        applied: list[Applied] = []
        answers: list[tuple[int, Outcome | StoreError]] = []
        for e in entries:
            if e.type is EntryType.CONF_CHANGE:
                answers.append((self._apply_conf_change(ConfChange.decode(e.data)), None))
                continue
            if not e.data:
                continue  # a new leader's empty entry
            entry = store_pb2.Entry.FromString(e.data)
            outcome: Outcome | StoreError = None
            if entry.WhichOneof("request") == "member_attributes":
                self.members.publish(entry.member_attributes)
            else:
                try:
                    outcome = machine.apply(entry)
                except StoreError as err:
                    outcome = err
                applied.append((entry, outcome))
            answers.append((entry.id, outcome))
        self._applied = entries[-1].index
        if applied:
            self.on_applied(applied)
        for request_id, outcome in answers:
            self._proposals.answer(request_id, outcome)
        self._reads.applied_to(self._applied)

    def _apply_conf_change(self, change: ConfChange) -> int:
        self._conf_state = self._node.apply_conf_change(change)
        request_id = self.members.apply_change(change)
        log.info(
            "member %x %s; voters now %s",
            change.node_id,
            "added" if change.type is ConfChangeType.ADD_NODE else "removed",
            ", ".join(f"{v:x}" for v in self._conf_state.voters),
        )
        if change.type is ConfChangeType.REMOVE_NODE and change.node_id == self.member_id:
            self.removed = True
        return request_id

    def _restore(self, snap: Snapshot) -> None:
        state = store_pb2.ReplicaState.FromString(snap.data)
        self.machine.reset(state.machine)
        self.members = Members(state.members)
        self._conf_state = snap.conf_state
        self._applied = self._snapshot_index = snap.index
        self._reads.applied_to(snap.index)
        self.snapshots_received += 1
        log.info("restored from the leader's snapshot at index %d", snap.index)
        self.on_restored()

    def _leader_changed(self, lead: int) -> None:
        if lead == self._lead:
            return  # only our role changed (e.g. follower to candidate)
        was_leading = self._lead == self.member_id
        self._lead = lead
        self._leader_event.set()
        self._leader_event = asyncio.Event()
        log.info("member %x: leader is now %x (term %d)", self.member_id, lead, self._node.raft.term)
        if lead != NONE:
            self._proposals.leader_changed(lead)
        if (lead == self.member_id) != was_leading:
            self.on_leadership(not was_leading)

    async def _snapshot(self) -> None:
        """Save state and members at the applied index, compact the log behind it, sync the files."""
        index = self._applied
        started = time.monotonic()
        state = store_pb2.ReplicaState(machine=self.machine.snapshot(), members=self.members.list())
        storage = self._storage
        data = state.SerializeToString()
        storage.create_snapshot(index, self._conf_state, data)
        built = time.monotonic() - started
        log.info("snapshot at index %d: %d bytes, built in %.3fs", index, len(data), built)
        compact_to = index - self._options.catchup_entries
        if compact_to >= storage.first_index():
            storage.compact(compact_to)
        self._snapshot_index = index
        await self._sync()

    def _fail_waiting(self) -> None:
        self._proposals.close(Stopped())
        self._reads.fail(Stopped())

    # -- numbers for status and tests ------------------------------------------------------------------
    @property
    def fsync_count(self) -> int:
        return self._storage.sync_count

    def disk_bytes(self) -> int:
        return self._storage.disk_bytes()
