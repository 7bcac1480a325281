"""Text renderings of Raft values, shared by transcripts and simulation traces (etcd-io/raft's style)."""

from __future__ import annotations

from cluster.store.raft import ConfChange, Entry, EntryType, Message, MessageType, Ready, Snapshot

_WITH_LOG = frozenset({MessageType.APP, MessageType.VOTE, MessageType.PRE_VOTE})
_WITH_INDEX = frozenset({MessageType.APP_RESP, MessageType.READ_INDEX_RESP})
_WITH_COMMIT = frozenset({MessageType.APP, MessageType.HEARTBEAT})


def entry(e: Entry) -> str:
    if e.type is EntryType.CONF_CHANGE:
        change = ConfChange.decode(e.data)
        verb = "add" if change.type.name == "ADD_NODE" else "remove"
        return f"{e.term}/{e.index} EntryConfChange {verb} {change.node_id}"
    return f"{e.term}/{e.index} EntryNormal {e.data.decode()!r}"


def entries(es: list[Entry]) -> str:
    return "[" + ", ".join(entry(e) for e in es) + "]"


def snapshot(s: Snapshot) -> str:
    voters = " ".join(str(v) for v in s.conf_state.voters)
    return f"Index:{s.index} Term:{s.term} Voters:({voters})"


def message(m: Message) -> str:
    parts = [f"{m.frm}->{m.to} {m.type.label} Term:{m.term}"]
    if m.type in _WITH_LOG:
        parts.append(f"Log:{m.log_term}/{m.index}")
    if m.type in _WITH_INDEX:
        parts.append(f"Index:{m.index}")
    if m.type in _WITH_COMMIT:
        parts.append(f"Commit:{m.commit}")
    if m.reject:
        parts.append(
            "Rejected" + (f" (Hint: {m.reject_hint}/{m.log_term})" if m.type is MessageType.APP_RESP else "")
        )
    if m.entries:
        parts.append("Entries:" + entries(m.entries))
    if m.snapshot is not None:
        parts.append("Snapshot:" + snapshot(m.snapshot))
    if m.context:
        parts.append(f"Context:{m.context.decode()}")
    return " ".join(parts)


def ready(rd: Ready) -> list[str]:
    lines = [f"Ready MustSync={str(rd.must_sync).lower()}:"]
    if rd.soft_state is not None:
        lines.append(f"Lead:{rd.soft_state.lead} State:{rd.soft_state.role.label}")
    if rd.hard_state is not None:
        hs = rd.hard_state
        lines.append(f"HardState Term:{hs.term} Vote:{hs.vote} Commit:{hs.commit}")
    if rd.entries:
        lines.append("Entries:")
        lines.extend(entry(e) for e in rd.entries)
    if rd.snapshot is not None:
        lines.append("Snapshot " + snapshot(rd.snapshot))
    if rd.committed_entries:
        lines.append("CommittedEntries:")
        lines.extend(entry(e) for e in rd.committed_entries)
    if rd.messages:
        lines.append("Messages:")
        lines.extend(message(m) for m in rd.messages)
    if rd.read_states:
        lines.append("ReadStates:")
        lines.extend(f"Index:{rs.index} Context:{rs.context.decode()}" for rs in rd.read_states)
    return lines
