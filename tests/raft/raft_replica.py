"""One Raft replica as a shell would run it, for the simulation and the transcripts.

A replica owns durable storage (a MemoryStorage that survives crashes), the RawNode over it (lost on a
crash) and a toy state machine: a CRC chained over applied payloads plus the current config. Its
methods are the steps of the Ready contract (cluster/store/raft/rawnode.py): persist, then the caller
sends, then apply, then advance.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

from cluster.store.raft import (
    ConfChange,
    Config,
    ConfState,
    Entry,
    EntryType,
    MemoryStorage,
    RawNode,
    Ready,
    Snapshot,
)

ConfigFactory = Callable[[int, int], Config]  # (node id, applied index) -> Config


class App:
    """The replicated state machine: deterministic digest of everything applied, and the config."""

    __slots__ = ("applied", "conf", "digest")

    def __init__(self, applied: int, digest: int, conf: ConfState) -> None:
        self.applied = applied
        self.digest = digest
        self.conf = conf

    @classmethod
    def from_snapshot(cls, snap: Snapshot) -> App:
        return cls(snap.index, int.from_bytes(snap.data, "big") if snap.data else 0, snap.conf_state)

    def snapshot_data(self) -> bytes:
        return self.digest.to_bytes(4, "big")


class Replica:
    def __init__(
        self,
        node_id: int,
        storage: MemoryStorage,
        make_config: ConfigFactory,
        founders: list[int] | None = None,
    ) -> None:
        """`founders`: the initial members if this node founds the cluster; None for a node that joins."""
        self.id = node_id
        self.storage = storage
        self._make_config = make_config
        self._founders = founders
        self.node: RawNode | None = None
        self.app = App(0, 0, ConfState())
        self.start()

    @property
    def alive(self) -> bool:
        return self.node is not None

    def start(self) -> None:
        """(Re)start from durable state: the state machine from the snapshot, Raft from storage."""
        self.app = App.from_snapshot(self.storage.snapshot())
        self.node = RawNode(self._make_config(self.id, self.app.applied), self.storage)
        if self._founders and self.storage.last_index() == 0:
            # Nothing durable yet (not even the bootstrap, if we crashed before its fsync): found again.
            self.node.bootstrap(self._founders)

    def crash(self) -> None:
        self.node = None

    def live(self) -> RawNode:
        if self.node is None:
            raise RuntimeError(f"replica {self.id} is down")
        return self.node

    def persist(self, rd: Ready) -> None:
        """Step a of the contract: snapshot, entries, hard state (one atomic, synced write here)."""
        if rd.snapshot is not None:
            self.storage.apply_snapshot(rd.snapshot)
        self.storage.append(rd.entries)
        if rd.hard_state is not None:
            self.storage.set_hard_state(rd.hard_state)

    def apply(self, rd: Ready) -> list[Entry]:
        """Step c: restore from the snapshot, apply committed entries (conf changes through Raft)."""
        if rd.snapshot is not None:
            self.app = App.from_snapshot(rd.snapshot)
        node = self.live()
        for e in rd.committed_entries:
            if e.type is EntryType.CONF_CHANGE:
                self.app.conf = node.apply_conf_change(ConfChange.decode(e.data))
            self.app.digest = zlib.crc32(e.data, self.app.digest)
            self.app.applied = e.index
        return rd.committed_entries

    def compact(self, keep: int = 0) -> bool:
        """Snapshot the state machine at its applied index, then drop the log up to `keep` entries before."""
        index = self.app.applied
        if index <= self.storage.snapshot().index:
            return False
        self.storage.create_snapshot(index, self.app.conf, self.app.snapshot_data())
        self.storage.compact(max(index - keep, self.storage.first_index()))
        return True
