"""A tiny interpreter for Raft scenario transcripts (in the style of etcd-io/raft's testdata/*.txt).

A transcript is a sequence of blocks: comment lines (`#`) and blank lines, then a command line, a `----`
line and the expected output (no blank lines inside). `run_transcript` executes the commands against
an in-memory cluster and returns the file as it should read; a test compares that with the file.

Commands (node ids are integers, `n` an optional count):
    add-nodes N [prevote=false] [checkquorum=false] [max-size=B] [join]
                                   add N nodes; founders bootstrap together (their first Ready is
                                   handled silently); `join` nodes start empty and learn the config
    campaign ID | propose ID DATA | propose-conf-change ID add|remove NODE
    read-index ID CTX | transfer-leader LEADER TARGET
    process-ready ID...            handle each node's Ready: persist, send, apply, advance
    deliver-msgs [ID...] [drop=(ID,...)]
                                   deliver queued messages to the nodes (default all), in order;
                                   messages to the `drop` nodes are dropped instead
    stabilize                      process Readies and deliver messages until nothing is left
    tick ID [n] | tick-heartbeat ID | tick-election ID
    partition A B / C D | heal     messages across the cut are dropped when delivered
    crash ID | restart ID          a crash keeps only what was persisted
    compact ID INDEX               snapshot at the applied index, drop the log up to INDEX
    status [ID...] | raft-log ID | raft-state [ID...]
The transport reports every MsgSnap's fate to its sender (report_snapshot) as it delivers or drops it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from raft_render import entry as render_entry
from raft_render import message as render_message
from raft_render import ready as render_ready
from raft_replica import Replica

from cluster.store.raft import (
    ConfChange,
    ConfChangeType,
    Config,
    MemoryStorage,
    Message,
    MessageType,
    ProposalDroppedError,
)
from cluster.store.raft.core import Raft

Handler = Callable[[list[str]], list[str]]


class Env:
    """The cluster a transcript drives: replicas, a FIFO network, an optional partition."""

    def __init__(self) -> None:
        self.replicas: dict[int, Replica] = {}
        self.options: dict[int, dict[str, str]] = {}
        self.network: list[Message] = []
        self.partition: dict[int, int] | None = None
        self.handlers: dict[str, Handler] = {
            "add-nodes": self.add_nodes,
            "campaign": lambda a: self._call(a, lambda r: r.live().campaign()),
            "propose": lambda a: self._call(a, lambda r: r.live().propose(a[1].encode())),
            "propose-conf-change": self.propose_conf_change,
            "read-index": lambda a: self._call(a, lambda r: r.live().read_index(a[1].encode())),
            "transfer-leader": lambda a: self._call(a, lambda r: r.live().transfer_leadership(int(a[1]))),
            "process-ready": self.process_ready,
            "deliver-msgs": self.deliver_msgs,
            "stabilize": self.stabilize,
            "tick": self.tick,
            "tick-heartbeat": lambda a: self._ticks(int(a[0]), self._raft(a).heartbeat_timeout),
            "tick-election": lambda a: self._ticks(int(a[0]), self._raft(a).randomized_election_timeout),
            "partition": self.partition_cmd,
            "heal": self.heal,
            "crash": self.crash,
            "restart": self.restart,
            "compact": self.compact,
            "status": self.status,
            "raft-log": self.raft_log,
            "raft-state": self.raft_state,
        }

    def run(self, command: str) -> list[str]:
        name, *args = command.split()
        handler = self.handlers.get(name)
        if handler is None:
            raise ValueError(f"unknown command {name!r}")
        return handler(args) or ["ok"]

    # -- helpers -----------------------------------------------------------------------------------------
    def _config(self, node_id: int, applied: int) -> Config:
        opts = self.options[node_id]
        return Config(
            id=node_id,
            election_tick=10,
            heartbeat_tick=1,
            applied=applied,
            max_size_per_msg=int(opts.get("max-size", "0")),
            pre_vote=opts.get("prevote", "true") == "true",
            check_quorum=opts.get("checkquorum", "true") == "true",
            rng=random.Random(node_id),
        )

    def _raft(self, args: list[str]) -> Raft:
        return self.replicas[int(args[0])].live().raft

    def _call(self, args: list[str], action: Callable[[Replica], None]) -> list[str]:
        try:
            action(self.replicas[int(args[0])])
        except ProposalDroppedError as e:
            return [f"dropped: {e}"]
        return []

    def _ticks(self, node_id: int, count: int) -> list[str]:
        node = self.replicas[node_id].live()
        for _ in range(count):
            node.tick()
        return []

    # -- commands ----------------------------------------------------------------------------------------
    def add_nodes(self, args: list[str]) -> list[str]:
        count = int(args[0])
        opts = dict(a.split("=", 1) for a in args[1:] if "=" in a)
        first = max(self.replicas, default=0) + 1
        ids = list(range(first, first + count))
        join = "join" in args
        for node_id in ids:
            self.options[node_id] = opts
            replica = Replica(node_id, MemoryStorage(), self._config, founders=None if join else ids)
            self.replicas[node_id] = replica
            if not join:
                # Found the cluster quietly: persist and apply the bootstrap entries.
                node = replica.live()
                rd = node.ready()
                replica.persist(rd)
                replica.apply(rd)
                node.advance()
        return []

    def propose_conf_change(self, args: list[str]) -> list[str]:
        kind = {"add": ConfChangeType.ADD_NODE, "remove": ConfChangeType.REMOVE_NODE}[args[1]]
        change = ConfChange(kind, int(args[2]))
        return self._call(args, lambda r: r.live().propose_conf_change(change))

    def _handle_ready(self, replica: Replica) -> list[str]:
        node = replica.live()
        rd = node.ready()
        replica.persist(rd)
        self.network.extend(rd.messages)
        replica.apply(rd)
        node.advance()
        return render_ready(rd)

    def process_ready(self, args: list[str]) -> list[str]:
        out: list[str] = []
        for arg in args:
            replica = self.replicas[int(arg)]
            if replica.alive and replica.live().has_ready():
                lines = self._handle_ready(replica)
                out.extend(
                    lines if len(args) == 1 else [f"> {arg} handling Ready", *("  " + x for x in lines)]
                )
        return out

    def _deliver(self, targets: set[int], drop: set[int]) -> list[str]:
        """Deliver (or drop) queued messages to targets; output grouped by recipient."""
        out: list[str] = []
        keep: list[Message] = []
        by_target: dict[int, list[str]] = {}
        for msg in self.network:
            if msg.to not in targets and msg.to not in drop:
                keep.append(msg)
                continue
            lines = by_target.setdefault(msg.to, [])
            dst = self.replicas.get(msg.to)
            cut = self.partition is not None and self.partition.get(msg.frm) != self.partition.get(msg.to)
            if msg.to in drop or dst is None or not dst.alive or cut:
                reason = "partition" if cut else "dropped" if msg.to in drop else "down"
                lines.append(f"{render_message(msg)} ({reason})")
                self._report_snapshot(msg, delivered=False, lines=lines)
                continue
            lines.append(render_message(msg))
            dst.live().step(msg)
            self._report_snapshot(msg, delivered=True, lines=lines)
        self.network = keep
        for node_id in sorted(by_target):
            out.append(f"> {node_id} receiving messages")
            out.extend("  " + line for line in by_target[node_id])
        return out

    def _report_snapshot(self, msg: Message, delivered: bool, lines: list[str]) -> None:
        if msg.type is not MessageType.SNAP:
            return
        sender = self.replicas.get(msg.frm)
        if sender is not None and sender.alive:
            sender.live().report_snapshot(msg.to, delivered)
            lines.append(f"  report-snapshot {msg.frm}: {msg.to} {'delivered' if delivered else 'failed'}")

    def deliver_msgs(self, args: list[str]) -> list[str]:
        drop: set[int] = set()
        targets: set[int] = set()
        for arg in args:
            if arg.startswith("drop="):
                drop = {int(x) for x in arg[len("drop=(") : -1].split(",")}
            else:
                targets.add(int(arg))
        if not targets and not drop:
            targets = set(self.replicas)
        return self._deliver(targets, drop)

    def stabilize(self, args: list[str]) -> list[str]:
        out: list[str] = []
        while True:
            progressed = False
            for node_id, replica in sorted(self.replicas.items()):
                if replica.alive and replica.live().has_ready():
                    progressed = True
                    out.append(f"> {node_id} handling Ready")
                    out.extend("  " + line for line in self._handle_ready(replica))
            if self.network:
                progressed = True
                out.extend(self._deliver(set(self.replicas), set()))
            if not progressed:
                return out

    def tick(self, args: list[str]) -> list[str]:
        return self._ticks(int(args[0]), int(args[1]) if len(args) > 1 else 1)

    def partition_cmd(self, args: list[str]) -> list[str]:
        side = 0
        self.partition = {}
        for arg in args:
            if arg == "/":
                side += 1
            else:
                self.partition[int(arg)] = side
        return []

    def heal(self, args: list[str]) -> list[str]:
        self.partition = None
        return []

    def crash(self, args: list[str]) -> list[str]:
        self.replicas[int(args[0])].crash()
        return []

    def restart(self, args: list[str]) -> list[str]:
        self.replicas[int(args[0])].start()
        return self.raft_state([args[0]])

    def compact(self, args: list[str]) -> list[str]:
        replica = self.replicas[int(args[0])]
        index = int(args[1])
        if replica.app.applied > replica.storage.snapshot().index:
            replica.storage.create_snapshot(
                replica.app.applied, replica.app.conf, replica.app.snapshot_data()
            )
        replica.storage.compact(index)
        return self.raft_log(args[:1])

    def status(self, args: list[str]) -> list[str]:
        out = []
        for node_id in [int(a) for a in args] or sorted(self.replicas):
            replica = self.replicas[node_id]
            if not replica.alive:
                out.append(f"{node_id}: down")
                continue
            st = replica.live().status()
            hs, ss = st.hard_state, st.soft_state
            voters = " ".join(str(v) for v in st.voters)
            out.append(
                f"{st.id}: {ss.role.label} term={hs.term} vote={hs.vote} commit={hs.commit} "
                f"applied={st.applied} lead={ss.lead} voters=({voters})"
            )
            out.extend(f"  {peer}: {progress}" for peer, progress in sorted(st.progress.items()))
        return out

    def raft_log(self, args: list[str]) -> list[str]:
        log = self.replicas[int(args[0])].live().raft.log
        out = []
        if log.first_index() > 1:
            snap = log.snapshot()
            out.append(f"snapshot {snap.index}@{snap.term}")
        out.extend(render_entry(e) for e in log.all_entries())
        return out or ["log is empty"]

    def raft_state(self, args: list[str]) -> list[str]:
        ids = [int(a) for a in args] or sorted(self.replicas)
        out = []
        for node_id in ids:
            replica = self.replicas[node_id]
            if not replica.alive:
                out.append(f"{node_id}: down")
                continue
            raft = replica.live().raft
            out.append(f"{node_id}: {raft.role.label} term={raft.term} lead={raft.lead}")
        return out


def run_transcript(text: str) -> str:
    """Execute a transcript; return it with every command's output replaced by the actual output."""
    env = Env()
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            out.append(line)
            i += 1
            continue
        out.append(line)
        out.append("----")
        out.extend(env.run(line))
        i += 1
        if i < len(lines) and lines[i] == "----":
            i += 1
            while i < len(lines) and lines[i].strip():
                i += 1  # the old expected output
    return "\n".join(out) + "\n"


def transcripts() -> list[Path]:
    return sorted((Path(__file__).parent / "testdata").glob("*.txt"))
