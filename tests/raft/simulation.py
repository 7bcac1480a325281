"""Deterministic simulation of a Raft cluster with Raft's safety properties checked at every step.

One seed fixes everything: cluster size, the network's drops, duplicates, delays, reorders and
partitions, crashes (losing whatever a Ready handed out but was not yet synced), restarts, client
proposals and ReadIndex requests, leadership transfers, compactions, and one membership change (remove a
voter, then add a fresh empty node that catches up by snapshot). After the chaos the network heals and
the cluster must elect a leader and converge within a bounded number of rounds.

Checked continuously: one leader per term over all history; log matching (an (index, term) pair fixes the
entry and its whole prefix); leader completeness; committed entries never change and every replica applies
the same sequence; ReadIndex results are never below what a client saw committed before asking.

    .venv/bin/python tests/raft/simulation.py --seed 42 -v     # replay one seed with a trace
    .venv/bin/python tests/raft/simulation.py --seconds 3600   # run seeds until the time is up
"""

from __future__ import annotations

import argparse
import heapq
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from raft_render import message as render_message
from raft_render import ready as render_ready
from raft_replica import Replica

from cluster.store.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDroppedError,
    RaftError,
    RawNode,
    Ready,
    StateRole,
)

REPLAY = ".venv/bin/python tests/raft/simulation.py --seed {seed} -v"
ELECTION_TICK = 10
HEARTBEAT_TICK = 2


class SafetyViolation(AssertionError):
    """A Raft property was broken; the message says which and where."""


@dataclass(slots=True)
class Chaos:
    """Per-seed fault rates (per round unless noted)."""

    drop: float
    duplicate: float
    max_delay: int
    crash: float
    leader_crash: float  # extra crash rate of leaders: churn exercises elections, log repair, completeness
    restart: float
    partition: float
    heal: float
    sync: float  # chance a handed-out Ready is synced in a given round


@dataclass(slots=True)
class Committed:
    term: int
    data: bytes


class Simulation:
    def __init__(self, seed: int, rounds: int = 250, trace: Callable[[str], None] | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.rounds = rounds
        self.trace = trace
        rng = self.rng
        self.size = rng.choice((3, 5))
        self.chaos = Chaos(
            drop=rng.choice((0.0, 0.05, 0.2)),
            duplicate=rng.choice((0.0, 0.05)),
            max_delay=rng.choice((1, 2, 4)),
            crash=rng.choice((0.0, 0.01, 0.03)),
            leader_crash=rng.choice((0.0, 0.02, 0.08)),
            restart=rng.choice((0.05, 0.2)),
            partition=rng.choice((0.0, 0.01, 0.03)),
            heal=rng.choice((0.02, 0.05, 0.1)),
            sync=rng.choice((0.5, 1.0)),
        )
        self.now = 0
        # Without CheckQuorum a stranded leader leads on until it hears of a newer term: a long window
        # for stale reads. Without PreVote, a returning node disrupts: more elections.
        self.pre_vote = rng.random() < 0.8
        self.check_quorum = rng.random() < 0.7
        # Clocks drift: a slow node's timeouts (lease, check quorum, elections) last longer in real time.
        self.clock_rate = {i: rng.choice((1.0, 1.0, 0.7, 0.4)) for i in range(1, self.size + 2)}
        voters = list(range(1, self.size + 1))
        self.replicas = {i: Replica(i, MemoryStorage(), self._config, founders=voters) for i in voters}
        self.unsynced: dict[int, Ready] = {}
        self.decommissioned: set[int] = set()
        self.partition: dict[int, int] | None = None  # node -> side
        self.network: list[tuple[int, int, Message]] = []  # heap of (due round, seq, message)
        self.seq = 0
        # History, for the checks.
        self.leaders: dict[int, int] = {}  # term -> leader
        self.entries: dict[tuple[int, int], tuple[bytes, int]] = {}  # (index, term) -> (data, prev term)
        self.committed: dict[int, Committed] = {}
        self.max_committed = 0
        self.final_committed = False  # the liveness phase's proposal
        self.read_floor: dict[bytes, int] = {}
        self.proposals = 0
        # Membership change: remove one voter, then add a fresh node.
        self.next_id = self.size + 1
        self.removed: int | None = None
        self.added: int | None = None
        self.change_round = rng.randrange(rounds // 8, rounds // 3)

    def _config(self, node_id: int, applied: int) -> Config:
        return Config(
            id=node_id,
            election_tick=ELECTION_TICK,
            heartbeat_tick=HEARTBEAT_TICK,
            applied=applied,
            max_size_per_msg=self.rng.choice((0, 1, 40, 200)),
            max_inflight_msgs=self.rng.choice((1, 4, 256)),
            pre_vote=self.pre_vote,
            check_quorum=self.check_quorum,
            rng=random.Random(self.rng.random()),
        )

    def log(self, text: str) -> None:
        if self.trace is not None:
            self.trace(f"[{self.now}] {text}")

    def fail(self, text: str) -> SafetyViolation:
        return SafetyViolation(f"seed {self.seed} round {self.now}: {text}")

    # -- the run -----------------------------------------------------------------------------------------
    def run(self) -> None:
        for _ in range(self.rounds):
            self._chaos_events()
            self._client_events()
            self._round()
        self._check_liveness()

    def _round(self) -> None:
        self.now += 1
        for replica in self.replicas.values():
            if replica.node is not None and self.rng.random() < self.clock_rate.get(replica.id, 1.0):
                replica.node.tick()
                self._check_role(replica)
        self._deliver_due()
        for replica in self.replicas.values():
            self._handle_ready(replica)

    def _live(self) -> list[Replica]:
        return [r for r in self.replicas.values() if r.node is not None]

    def _leader(self) -> Replica | None:
        best: Replica | None = None
        for r in self._live():
            raft = r.live().raft
            if raft.role is StateRole.LEADER and (best is None or raft.term > best.live().raft.term):
                best = r
        return best

    # -- faults ------------------------------------------------------------------------------------------
    def _chaos_events(self) -> None:
        rng, chaos = self.rng, self.chaos
        for replica in self.replicas.values():
            if replica.id in self.decommissioned:
                continue
            if replica.node is None:
                if rng.random() < chaos.restart:
                    self.log(f"restart {replica.id}")
                    replica.start()
                continue
            leading = replica.node.raft.role is StateRole.LEADER
            if rng.random() < chaos.crash + (chaos.leader_crash if leading else 0.0):
                lost = self.unsynced.pop(replica.id, None)
                self.log(f"crash {replica.id}" + (" (unsynced Ready lost)" if lost else ""))
                replica.crash()
        if self.partition is None and rng.random() < chaos.partition:
            ids = sorted(self.replicas)
            rng.shuffle(ids)
            cut = rng.randrange(1, len(ids))
            leader = self._leader()
            if leader is not None and rng.random() < 0.5:
                # Strand the leader in a minority: it keeps leading until CheckQuorum notices.
                ids.remove(leader.id)
                ids.insert(0, leader.id)
                cut = rng.randrange(1, (len(ids) + 1) // 2)
            self.partition = {node: int(k >= cut) for k, node in enumerate(ids)}
            self.log(f"partition {sorted(ids[:cut])} / {sorted(ids[cut:])}")
        elif self.partition is not None and rng.random() < chaos.heal:
            self.partition = None
            self.log("heal")

    def _client_events(self) -> None:
        rng = self.rng
        live = self._live()
        if not live:
            return
        leader = self._leader()
        if rng.random() < 0.3:
            target = leader if leader is not None and rng.random() < 0.7 else rng.choice(live)
            self.proposals += 1
            data = f"v{self.proposals}".encode()
            self._request(target, f"propose {data.decode()}", lambda n: n.propose(data))
        if rng.random() < 0.1:
            # Often ask a node that believes it leads: a deposed leader must not answer stale reads.
            leaders = [r for r in live if r.live().raft.role is StateRole.LEADER]
            target = rng.choice(leaders if leaders and rng.random() < 0.5 else live)
            ctx = f"r{self.seed}.{self.now}".encode()
            self.read_floor[ctx] = self.max_committed
            self._request(
                target, f"read-index {ctx.decode()} floor={self.max_committed}", lambda n: n.read_index(ctx)
            )
        if leader is not None and rng.random() < 0.01:
            transferee = rng.choice(leader.live().raft.voters)
            self._request(
                leader, f"transfer-leader to {transferee}", lambda n: n.transfer_leadership(transferee)
            )
        if rng.random() < 0.02:
            replica = rng.choice(live)
            if replica.compact(keep=rng.choice((0, 2))):
                self.log(f"compact {replica.id} at {replica.storage.snapshot().index}")
        self._membership(leader)

    def _request(self, replica: Replica, what: str, call: Callable[[RawNode], None]) -> None:
        self.log(f"{what} at {replica.id}")
        try:
            call(replica.live())
        except ProposalDroppedError as e:
            self.log(f"  dropped: {e}")
        self._check_role(replica)

    def _membership(self, leader: Replica | None) -> None:
        if leader is None or self.now < self.change_round or self.now % 10:
            return
        raft = leader.live().raft
        if self.removed is None or self.removed in raft.voters:
            victim = self.removed or self.rng.choice(raft.voters)
            self.removed = victim
            self._request(
                leader,
                f"propose remove {victim}",
                lambda n: n.propose_conf_change(ConfChange(ConfChangeType.REMOVE_NODE, victim)),
            )
        elif self.added is None or self.added not in raft.voters:
            if self.added is None:
                self.added = self.next_id
                self.next_id += 1
                self.replicas[self.added] = Replica(self.added, MemoryStorage(), self._config)
                self.log(f"start fresh node {self.added}")
            new = self.added
            self._request(
                leader,
                f"propose add {new}",
                lambda n: n.propose_conf_change(ConfChange(ConfChangeType.ADD_NODE, new)),
            )
            # Compact so that the new node can only catch up through a snapshot.
            leader.compact()

    # -- network -----------------------------------------------------------------------------------------
    def _send(self, msg: Message) -> None:
        chaos, rng = self.chaos, self.rng
        if rng.random() < chaos.drop:
            self.log(f"  drop {render_message(msg)}")
            self._report_snapshot(msg, delivered=False)
            return
        copies = 2 if rng.random() < chaos.duplicate else 1
        for _ in range(copies):
            due = self.now + int(rng.random() * (chaos.max_delay + 1))
            self.seq += 1
            heapq.heappush(self.network, (due, self.seq, msg))

    def _deliver_due(self) -> None:
        network = self.network
        while network and network[0][0] <= self.now:
            _, _, msg = heapq.heappop(network)
            dst = self.replicas.get(msg.to)
            cut = self.partition is not None and self.partition.get(msg.frm) != self.partition.get(msg.to)
            if dst is None or dst.node is None or cut:
                self._report_snapshot(msg, delivered=False)
                self._report_unreachable(msg)
                continue
            if self.trace is not None:
                self.log(f"deliver {render_message(msg)}")
            dst.node.step(msg)
            self._report_snapshot(msg, delivered=True)
            self._check_role(dst)

    def _report_unreachable(self, msg: Message) -> None:
        """Sometimes the transport notices a peer is unreachable and says so (RawNode.report_unreachable)."""
        sender = self.replicas.get(msg.frm)
        if sender is not None and sender.node is not None and self.rng.random() < 0.3:
            sender.node.report_unreachable(msg.to)

    def _report_snapshot(self, msg: Message, delivered: bool) -> None:
        """The transport tells the sender how its MsgSnap fared (RawNode.report_snapshot)."""
        if msg.type is not MessageType.SNAP:
            return
        sender = self.replicas.get(msg.frm)
        if sender is not None and sender.node is not None:
            sender.node.report_snapshot(msg.to, delivered)

    # -- Ready handling (the shell) ----------------------------------------------------------------------
    def _handle_ready(self, replica: Replica) -> None:
        node = replica.node
        if node is None:
            return
        rd = self.unsynced.get(replica.id)
        if rd is None:
            if not node.has_ready():
                return
            rd = node.ready()
            if self.trace is not None:
                self.log(f"{replica.id} Ready: " + "\n    ".join(render_ready(rd)))
            self._check_ready(replica, rd)
            self.unsynced[replica.id] = rd
        if self.rng.random() >= self.chaos.sync:
            return  # the fsync is still running; a crash now loses this Ready
        del self.unsynced[replica.id]
        replica.persist(rd)
        for msg in rd.messages:
            self._send(msg)
        self._check_applied(replica, rd)
        replica.apply(rd)
        node.advance()
        self._check_role(replica)
        for victim in self.decommissioned:
            if self.replicas[victim].node is not None:
                # Its removal is committed: the operator shuts it down for good.
                self.log(f"decommission {victim}")
                self.replicas[victim].crash()
                self.unsynced.pop(victim, None)

    # -- safety checks -----------------------------------------------------------------------------------
    def _check_role(self, replica: Replica) -> None:
        raft = replica.live().raft
        if raft.role is not StateRole.LEADER:
            return
        known = self.leaders.get(raft.term)
        if known is None:
            self.leaders[raft.term] = replica.id
            self.log(f"{replica.id} is leader at term {raft.term}")
            self._check_leader_completeness(replica)
        elif known != replica.id:
            raise self.fail(f"two leaders at term {raft.term}: {known} and {replica.id}")

    def _check_leader_completeness(self, replica: Replica) -> None:
        log = replica.live().raft.log
        top = self.max_committed
        if top == 0 or top < log.first_index() - 1:
            return  # covered by the leader's snapshot, which only holds committed state
        if top > log.last_index() or log.term(top) != self.committed[top].term:
            raise self.fail(f"new leader {replica.id} lacks committed entry {top}@{self.committed[top].term}")

    def _check_ready(self, replica: Replica, rd: Ready) -> None:
        log = replica.live().raft.log
        commit = rd.hard_state.commit if rd.hard_state is not None else log.committed
        prev_term = log.term(rd.entries[0].index - 1) if rd.entries else 0
        for e in rd.entries:
            key = (e.index, e.term)
            known = self.entries.get(key)
            if known is None:
                self.entries[key] = (e.data, prev_term)
            elif known != (e.data, prev_term):
                raise self.fail(f"log matching: {replica.id} has {e.index}@{e.term} unlike another replica")
            if e.index <= commit:
                c = self.committed.get(e.index)
                if c is not None and c.term != e.term:
                    raise self.fail(
                        f"{replica.id} overwrites committed entry {e.index}@{c.term} with term {e.term}"
                    )
            prev_term = e.term
        if rd.snapshot is not None:
            c = self.committed.get(rd.snapshot.index)
            if c is not None and c.term != rd.snapshot.term:
                raise self.fail(
                    f"{replica.id} got a snapshot {rd.snapshot.index}@{rd.snapshot.term} off the log"
                )
        for rs in rd.read_states:
            floor = self.read_floor.get(rs.context, 0)
            if rs.index < floor:
                raise self.fail(f"read {rs.context!r} at {replica.id}: index {rs.index} < committed {floor}")

    def _check_applied(self, replica: Replica, rd: Ready) -> None:
        applied = rd.snapshot.index if rd.snapshot is not None else replica.app.applied
        for e in rd.committed_entries:
            if e.index != applied + 1:
                raise self.fail(f"{replica.id} applies {e.index} after {applied}")
            applied = e.index
            known = self.committed.get(e.index)
            if known is None:
                self.committed[e.index] = Committed(e.term, e.data)
                self.max_committed = max(self.max_committed, e.index)
                self.final_committed = self.final_committed or e.data == b"final"
            elif known.term != e.term or known.data != e.data:
                raise self.fail(
                    f"{replica.id} applies {e.index}@{e.term}, another applied {e.index}@{known.term}"
                )
            if e.type is EntryType.CONF_CHANGE:
                change = ConfChange.decode(e.data)
                if change.type is ConfChangeType.REMOVE_NODE:
                    self.decommissioned.add(change.node_id)

    # -- liveness ----------------------------------------------------------------------------------------
    def _check_liveness(self, budget: int = 80 * ELECTION_TICK) -> None:
        """Heal everything; a leader must emerge and every member must apply one more proposal.

        The bound is generous because without PreVote, a node with a stale log and config can keep
        forcing new terms; the node with the newest log wins only when its timer beats the stale one's
        (about one election in four), as in any Raft without PreVote.
        """
        self.log("heal all, restart all, reliable network")
        self.partition = None
        # Without PreVote, a node with a stale log and a fast clock could otherwise keep bumping the
        # term before a slow node with the newest log ever times out (a known Raft liveness limit).
        self.clock_rate = {}
        self.chaos = Chaos(
            drop=0.0,
            duplicate=0.0,
            max_delay=1,
            crash=0,
            leader_crash=0,
            restart=0,
            partition=0,
            heal=0,
            sync=1.0,
        )
        for replica in self.replicas.values():
            if replica.node is None and replica.id not in self.decommissioned:
                replica.start()
        for attempt in range(budget):
            self._round()
            leader = self._leader()
            if leader is None:
                continue
            raft = leader.live().raft
            if not self.final_committed and attempt % ELECTION_TICK == 0:
                self._request(leader, "propose final", lambda n: n.propose(b"final"))
            if self._converged(raft.voters):
                self.log(f"converged at round {self.now}")
                return
        leader = self._leader()
        state = {r.id: (r.live().raft.role.label, r.live().raft.term, r.app.applied) for r in self._live()}
        raise self.fail(f"no convergence within {budget} rounds (leader {leader and leader.id}): {state}")

    def _converged(self, voters: tuple[int, ...]) -> bool:
        apps = [self.replicas[v] for v in voters if v in self.replicas]
        if len(apps) != len(voters) or any(r.node is None for r in apps):
            return False
        if not self.final_committed:
            return False
        target = max(r.live().raft.log.last_index() for r in apps)
        digests = {r.app.digest for r in apps}
        return len(digests) == 1 and all(r.app.applied == target for r in apps)


def run_seed(seed: int, verbose: bool = False) -> str | None:
    """Run one seed; the failure (with how to replay it) or None."""
    sim = Simulation(seed, trace=print if verbose else None)
    try:
        sim.run()
    except SafetyViolation as e:
        return f"{e}\n  replay: {REPLAY.format(seed=seed)}"
    except RaftError as e:  # the core refused to break an invariant: a bug all the same
        return f"seed {seed} round {sim.now}: {type(e).__name__}: {e}\n  replay: {REPLAY.format(seed=seed)}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, help="run this seed only")
    parser.add_argument("-v", "--verbose", action="store_true", help="print a trace of the run")
    parser.add_argument("--seconds", type=float, default=0, help="run seeds from --first until time is up")
    parser.add_argument("--first", type=int, default=0, help="first seed of a long run")
    args = parser.parse_args(argv)
    if args.seed is not None:
        failure = run_seed(args.seed, args.verbose)
        print(failure or f"seed {args.seed}: ok")
        return 1 if failure else 0
    deadline = time.monotonic() + (args.seconds or 60)
    start = time.monotonic()
    seed, failures, last_report = args.first, 0, start
    while time.monotonic() < deadline:
        failure = run_seed(seed)
        if failure:
            failures += 1
            print(failure, flush=True)
        seed += 1
        now = time.monotonic()
        if now - last_report >= 10:
            last_report = now
            rate = (seed - args.first) / (now - start)
            print(f"seeds {args.first}..{seed - 1}: {rate:.1f} seeds/s, {failures} failures", flush=True)
    print(f"done: {seed - args.first} seeds, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
