"""NodeTable: the nodes a decision looks at, as a sequence of NodeInfos and as columns of numbers.

A filter or score that is arithmetic over a node's totals (does the request fit what is left,
how full would the node be) costs a Python call per node when asked node by node: 500 calls per
plugin per pod at 5,000 nodes. Asked of a whole column, it is a few numpy operations. So the
numbers NodeInfo keeps are mirrored here, one row per node, and plugins may answer for all rows
at once (VectorFilterPlugin, VectorScorePlugin); everything else still reads the NodeInfos.

The scheduler's cache keeps one table for its node list and refreshes the row of each NodeInfo
it changed (`refresh`), so a decision never rebuilds it. A table made from a plain list (tests,
a post_filter's thought experiment) is filled once, when made. `subset(rows)` is the table of
some of the rows (the feasible nodes, for scoring): one copy of the numbers, and the NodeInfos
picked out only if someone walks them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import attrgetter
from typing import overload

import numpy as np
import numpy.typing as npt

from cluster.api.labels import Requirement
from cluster.api.taints import tolerated
from cluster.scheduler.framework.node_info import NodeInfo
from raykube.v1 import node_pb2, pod_pb2

Column = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Rows = npt.NDArray[np.intp] | list[int]

# The columns, in storage order: each the NodeInfo number of that name, or (the last four) a
# count, an id or a flag for what NodeInfo keeps as a collection. Stored column by column (one contiguous
# array each), since plugins read whole columns.
COLUMNS = (
    "allocatable_milli_cpu",
    "allocatable_memory",
    "allocatable_pods",
    "requested_milli_cpu",
    "requested_memory",
    "non_zero_milli_cpu",
    "non_zero_memory",
    "unschedulable",
    "pod_count",
    "taint_set",  # which of the table's distinct sets of NoSchedule/NoExecute taints (0: none)
    "prefer_no_schedule",  # has a PreferNoSchedule taint
    "holds_images",  # reports images it holds (hollow nodes hold none)
)


_SAME_NAMED = attrgetter(*COLUMNS[:8])  # the columns NodeInfo keeps under the same name


class _TaintSets:
    """The distinct sets of hard taints among a table's nodes, numbered as first seen (0: none).

    Nodes with equal taints (key, value, effect) tolerate the same pods, and a cluster's tainted
    nodes mostly carry one of a few sets: a pod is judged once per set, not once per node."""

    __slots__ = ("_ids", "taints")

    def __init__(self) -> None:
        self._ids: dict[tuple[tuple[str, str, str], ...], int] = {(): 0}
        self.taints: list[tuple[node_pb2.Taint, ...]] = [()]  # id -> the taints (of the first node seen)

    def id(self, info: NodeInfo) -> int:
        key = info.taint_key[1]
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self.taints)
            self.taints.append(info.taints)
        return found


class _Column:
    """A column of the table, by its name's place in COLUMNS (a view: do not write to it)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._index = COLUMNS.index(name)

    def __get__(self, table: NodeTable, owner: type) -> Column:
        return table._data[self._index]


class _Flag(_Column):
    """A yes/no column, as a boolean mask."""

    def __get__(self, table: NodeTable, owner: type) -> Mask:  # type: ignore[override]
        return table._data[self._index] != 0


class NodeTable(Sequence[NodeInfo]):
    __slots__ = (
        "_data",
        "_domains",
        "_in_parent",
        "_indexes",
        "_infos",
        "_parent",
        "_picks",
        "_rows",
        "_taint_sets",
    )

    def __init__(
        self,
        infos: Sequence[NodeInfo],
        data: Column | None = None,
        picks: Rows | None = None,
        parent: NodeTable | None = None,
    ):
        self._infos = infos if picks is not None else list(infos)
        self._picks = picks  # a subset's rows in `infos` (its parent's list), until walked
        self._parent = parent  # a subset's table, whose domains it reads (they last across pods)
        self._in_parent = picks  # a subset's rows there
        self._rows: dict[str, int] | None = None  # name -> row, made when `refresh` first needs it
        self._domains: dict[str, tuple[npt.NDArray[np.intp], list[str]]] = {}  # label key -> domains(key)
        self._indexes: dict[str, dict[str, int]] = {}  # label key -> domain_index(key)
        # A subset's taint_set ids are its table's: it shares the numbering.
        self._taint_sets: _TaintSets = parent._taint_sets if parent is not None else _TaintSets()
        if data is None:
            data = np.array([self._numbers(info) for info in self._infos], dtype=np.int64)
            data = data.reshape(len(self._infos), len(COLUMNS)).T.copy()
        self._data = data

    @classmethod
    def of(cls, nodes: Sequence[NodeInfo]) -> NodeTable:
        """`nodes` as a table: itself if it is one."""
        return nodes if isinstance(nodes, NodeTable) else cls(nodes)

    def refresh(self, info: NodeInfo) -> None:
        """Copy `info`'s numbers into its row again (after the cache changed it); a NodeInfo
        that is not in the table is ignored."""
        if self._rows is None:
            self._rows = {node.name: row for row, node in enumerate(self.infos())}
        row = self._rows.get(info.name)
        if row is not None and self.infos()[row] is info:
            self._data[:, row] = self._numbers(info)

    def _numbers(self, info: NodeInfo) -> tuple[int, ...]:
        return (*_SAME_NAMED(info), len(info.pods), self._taint_sets.id(info),
                bool(info.prefer_no_schedule_taints), bool(info.images))  # fmt: skip

    def relabeled(self) -> None:
        """Some node's labels changed: forget the domains worked out from them."""
        self._domains.clear()
        self._indexes.clear()

    def domains(self, key: str) -> tuple[npt.NDArray[np.intp], list[str]]:
        """Topology domains of label `key`: per row, the index of the node's value in the list of
        values returned with it (-1 for a node without the label). Worked out once per key."""
        found = self._domains.get(key)
        if found is None and self._parent is not None and self._in_parent is not None:
            parents_ids, parents_names = self._parent.domains(key)
            found = self._domains[key] = (parents_ids[self._in_parent], parents_names)
        elif found is None:
            names: dict[str, int] = {}
            values = (info.labels.get(key) for info in self.infos())
            ids = np.fromiter((-1 if v is None else names.setdefault(v, len(names)) for v in values),
                              dtype=np.intp, count=len(self))  # fmt: skip
            found = self._domains[key] = (ids, list(names))
        return found

    def domain_index(self, key: str) -> dict[str, int]:
        """The inverse of the names `domains(key)` returns: value -> its index there."""
        found = self._indexes.get(key)
        if found is None:
            found = self._indexes[key] = {name: i for i, name in enumerate(self.domains(key)[1])}
        return found

    def tolerating(self, tolerations: Sequence[pod_pb2.Toleration]) -> Mask:
        """Per row, whether `tolerations` cover every NoSchedule/NoExecute taint of the node
        (judged once per distinct set of taints)."""
        sets = self._taint_sets.taints
        verdicts = np.fromiter((all(tolerated(tolerations, taint) for taint in taints) for taints in sets),
                               dtype=bool, count=len(sets))  # fmt: skip
        return verdicts[self.taint_set]

    def matching(self, requirement: Requirement) -> Mask:
        """Per row, whether the node's labels satisfy `requirement`: judged once per value its
        key takes (and once for nodes without it), not once per node."""
        ids, values = self.domains(requirement.key)
        verdicts = [requirement.matches({requirement.key: value}) for value in values]
        verdicts.append(requirement.matches({}))  # at index -1: the nodes without the label
        return np.array(verdicts, dtype=bool)[ids]

    def subset(self, rows: Rows) -> NodeTable:
        """The table of `rows` (in that order)."""
        return NodeTable(self.infos(), self._data[:, rows], rows, self)

    def infos(self) -> Sequence[NodeInfo]:
        """The NodeInfos, row by row (for walks that index them many times)."""
        if self._picks is not None:
            rows = self._picks if isinstance(self._picks, list) else self._picks.tolist()
            self._infos, self._picks = list(map(self._infos.__getitem__, rows)), None
        return self._infos

    allocatable_milli_cpu = _Column()
    allocatable_memory = _Column()
    allocatable_pods = _Column()
    requested_milli_cpu = _Column()
    requested_memory = _Column()
    non_zero_milli_cpu = _Column()
    non_zero_memory = _Column()
    unschedulable = _Flag()
    pod_count = _Column()
    taint_set = _Column()
    prefer_no_schedule = _Flag()
    holds_images = _Flag()

    def __len__(self) -> int:
        return self._data.shape[1]

    @overload
    def __getitem__(self, index: int) -> NodeInfo: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[NodeInfo]: ...
    def __getitem__(self, index: int | slice) -> NodeInfo | Sequence[NodeInfo]:
        if self._picks is not None and isinstance(index, int):
            return self._infos[int(self._picks[index])]  # one node of a subset: no need to pick all
        return self.infos()[index]

    def __iter__(self) -> Iterator[NodeInfo]:
        return iter(self.infos())

    def __repr__(self) -> str:
        return f"NodeTable({len(self)} nodes)"
