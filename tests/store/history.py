"""Histories of client operations against the store, and the recorder that test code writes them with.

A history is what Jepsen, Knossos and Porcupine check: for every request a client sent, who sent it
(`process`), which key it touched, what it asked (`kind`, `value`, `expected`), when it was invoked,
when it completed and how it ended. Time is a monotonic clock read on the client side: `invoke`
before the request leaves, `complete` after the response arrived, so the moment the store really
executed the request lies somewhere in between.

Outcomes (`Status`):
- `ok`: the store answered; `output` is what it said (the value read; whether a compare-and-swap or
  a delete applied; the revision of a change). A CAS whose compare failed is `ok` with
  `applied=False`: it is an observation of the key, not a failure.
- `fail`: it definitely did not take effect (the store rejected it before changing anything, as it
  does for validation errors). The checker drops these.
- `unknown` (Jepsen's `info`): a timeout, a lost connection, an abandoned request. It may or may not
  have taken effect, and if it did, at some moment after its invocation, possibly after everything
  else. Its `complete` is None, read as infinity.

Operation kinds and their fields (etcd v3 requests on one key):

    kind           value      expected                 ok output
    read           -          -                        value (None: absent), revision (its mod_revision)
    write          new value  -                        revision (the Put response's header revision)
    delete         -          -                        applied (deleted > 0), revision (if applied)
    cas            new value  value (None: absent)     applied (txn succeeded), revision (if applied)
    cas_revision   new value  mod_revision (0: absent) applied (txn succeeded), revision (if applied)

Every output field except `applied` on a CAS may be left out (None: not recorded); what is recorded
is checked. `cas` is the txn `if value(key) == expected then put(key, value)`, and with
`expected=None` the txn `if version(key) == 0 then put` (etcd's value compare is always false on a
missing key, so "create if absent" is a version compare). `cas_revision` is
`if mod_revision(key) == expected then put`, the compare Kubernetes' API server uses, where a
missing key has mod_revision 0. Keys and values are text; bytes are decoded as UTF-8 with
`surrogateescape`, so any byte string survives the JSON round trip.

The recorder (`Recorder`) is what test clients call around each request:

    with recorder.operation(process, key, "write", value="v1") as op:
        resp = kv.Put(PutRequest(key=key, value=b"v1"), timeout=1)
        op.ok(revision=resp.header.revision)

Leaving the block by an exception records the operation as `unknown` (or `fail` when the
recorder's `definite_failure` predicate says the exception proves nothing was applied) and lets the
exception propagate; leaving it normally without `ok()`/`fail()` is a bug in the test and raises.
`history()` returns every finished operation and, as `unknown`, the ones still in flight.

Concurrency: `Recorder` is thread-safe (one lock around the id counter and the finished list) and
asyncio-friendly (a plain `with` around an `await` works; cancellation records `unknown`). The clock
is injected (default `time.monotonic`); it must be one clock shared by all clients of a history.

JSON lines (`dumps`/`loads`, `save`/`load`): one operation per line, so a failing history can be
saved next to a test failure and replayed through the checker.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

Process = int | str
Text = str | bytes


class Kind(StrEnum):
    READ = "read"
    WRITE = "write"
    DELETE = "delete"
    CAS = "cas"
    CAS_REVISION = "cas_revision"


class Status(StrEnum):
    OK = "ok"
    FAIL = "fail"
    UNKNOWN = "unknown"


WRITES_VALUE: Final = frozenset({Kind.WRITE, Kind.CAS, Kind.CAS_REVISION})
CONDITIONAL: Final = frozenset({Kind.CAS, Kind.CAS_REVISION, Kind.DELETE})


class HistoryError(ValueError):
    """An operation or a history that does not have the shape described in the module docstring."""


@dataclass(frozen=True, slots=True)
class Output:
    """What the store answered to an `ok` operation; None in a field means "not recorded"."""

    value: str | None = None
    applied: bool | None = None
    revision: int | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """One client request and its outcome; see the module docstring for the fields of each kind."""

    id: int
    process: Process
    key: str
    kind: Kind
    value: str | None
    expected: str | int | None
    invoke: float
    complete: float | None
    status: Status
    output: Output | None

    def __post_init__(self) -> None:
        problem = _shape_problem(self)
        if problem:
            raise HistoryError(f"operation {self.id}: {problem}")

    def __str__(self) -> str:
        """One line: `#id p=process [invoke, complete] kind args -> output` (`?` for unknown, `!fail`)."""
        end = "?" if self.complete is None else f"{self.complete:.6g}"
        args = " ".join(_show(a) for a in _arguments(self))
        text = f"#{self.id} p={self.process} [{self.invoke:.6g}, {end}] {self.kind}"
        if args:
            text += " " + args
        if self.status is Status.FAIL:
            return text + " !fail"
        if self.output is None:
            return text
        return f"{text} -> {_show_output(self.kind, self.output)}"


def _arguments(op: Operation) -> list[str | int | None]:
    if op.kind is Kind.CAS or op.kind is Kind.CAS_REVISION:
        return [op.expected, op.value]
    if op.kind is Kind.WRITE:
        return [op.value]
    return []


def _show(value: str | int | None) -> str:
    return "nil" if value is None else repr(value) if isinstance(value, str) else str(value)


def _show_output(kind: Kind, out: Output) -> str:
    if kind is Kind.READ:
        text = _show(out.value)
    elif out.applied is None:
        text = ""
    else:
        text = "applied" if out.applied else "not-applied"
    if out.revision is not None:
        text += f"@{out.revision}"
    return text or "ok"


def _shape_problem(op: Operation) -> str | None:
    """Why `op` is malformed, or None."""
    if op.kind in WRITES_VALUE:
        if not isinstance(op.value, str):
            return f"{op.kind} needs a value"
    elif op.value is not None:
        return f"{op.kind} takes no value"
    if op.kind is Kind.CAS and not (op.expected is None or isinstance(op.expected, str)):
        return "cas expects a value or None (absent)"
    if op.kind is Kind.CAS_REVISION and not (isinstance(op.expected, int) and op.expected >= 0):
        return "cas_revision expects a mod_revision >= 0 (0: absent)"
    if op.kind not in (Kind.CAS, Kind.CAS_REVISION) and op.expected is not None:
        return f"{op.kind} takes no expected value"
    if op.status is Status.UNKNOWN:
        if op.complete is not None or op.output is not None:
            return "an unknown operation has no completion time and no output"
        return None
    if op.complete is None or op.complete < op.invoke:
        return "a finished operation completes at or after its invocation"
    if op.status is Status.FAIL:
        return None if op.output is None else "a failed operation has no output"
    return _output_problem(op.kind, op.output)


def _output_problem(kind: Kind, out: Output | None) -> str | None:
    if out is None:
        return "an ok operation has an output"
    if kind is not Kind.READ and out.value is not None:
        return f"{kind} outputs no value"
    if kind is Kind.READ and out.applied is not None:
        return "a read outputs no applied flag"
    if kind is Kind.WRITE and out.applied is False:
        return "an ok write is always applied"
    if kind in (Kind.CAS, Kind.CAS_REVISION) and out.applied is None:
        return "an ok cas must record whether it applied"
    if out.revision is not None:
        if out.revision < 1:
            return "revisions start at 1"
        if kind is Kind.READ and out.value is None:
            return "an absent key has no mod_revision"
        if out.applied is False:
            return "a change that did not apply has no revision"
    return None


def text(value: Text) -> str:
    """Keys and values as the history stores them: bytes become str, losslessly."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


# ---------------------------------------------------------------------------------------------------
# JSON lines


def to_json(op: Operation) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": op.id,
        "process": op.process,
        "key": op.key,
        "kind": str(op.kind),
        "value": op.value,
        "expected": op.expected,
        "invoke": op.invoke,
        "complete": op.complete,
        "status": str(op.status),
    }
    if op.output is not None:
        out = op.output
        row["output"] = {"value": out.value, "applied": out.applied, "revision": out.revision}
    return row


def from_json(row: dict[str, Any]) -> Operation:
    try:
        out = row.get("output")
        return Operation(
            id=row["id"],
            process=row["process"],
            key=row["key"],
            kind=Kind(row["kind"]),
            value=row.get("value"),
            expected=row.get("expected"),
            invoke=row["invoke"],
            complete=row.get("complete"),
            status=Status(row["status"]),
            output=None if out is None else Output(out.get("value"), out.get("applied"), out.get("revision")),
        )
    except (KeyError, ValueError, TypeError, AttributeError) as e:
        if isinstance(e, HistoryError):
            raise
        raise HistoryError(f"not an operation: {row!r} ({e!r})") from e


def dumps(history: Iterable[Operation]) -> str:
    """The history as JSON lines (ensure_ascii, so surrogate-escaped bytes survive)."""
    return "".join(json.dumps(to_json(op), separators=(",", ":")) + "\n" for op in history)


def loads(lines: str) -> list[Operation]:
    history = []
    for number, line in enumerate(lines.splitlines(), 1):
        if line.strip():
            try:
                history.append(from_json(json.loads(line)))
            except (json.JSONDecodeError, HistoryError) as e:
                raise HistoryError(f"line {number}: {e}") from e
    return history


def save(path: Path, history: Iterable[Operation]) -> None:
    path.write_text(dumps(history), encoding="ascii")


def load(path: Path) -> list[Operation]:
    return loads(path.read_text(encoding="ascii"))


# ---------------------------------------------------------------------------------------------------
# Recording

_UNSET: Final[Any] = object()


class Recorder:
    """Collects operations from any number of threads and tasks into one history.

    `definite_failure(exc)` decides whether an exception raised inside `operation()` proves the
    request was not applied (recorded `fail`); anything else is `unknown`. The default trusts no
    exception: a wrong `fail` hides a bug, a wrong `unknown` only costs the checker time.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        definite_failure: Callable[[BaseException], bool] = lambda exc: False,
    ) -> None:
        self.clock = clock
        self.definite_failure = definite_failure
        self._lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, PendingOperation] = {}
        self._finished: dict[int, Operation] = {}

    def begin(
        self,
        process: Process,
        key: Text,
        kind: Kind | str,
        value: Text | None = None,
        expected: Text | int | None = None,
    ) -> PendingOperation:
        """Stamp the invocation now; the caller must then call ok(), fail() or unknown() on the result."""
        kind = Kind(kind)
        expected = text(expected) if isinstance(expected, str | bytes) else expected
        value = None if value is None else text(value)
        with self._lock:
            op_id = self._next_id
            # Built, and so checked, now: a malformed call fails at the call site, not at the end.
            invoked = Operation(
                op_id, process, text(key), kind, value, expected, self.clock(), None, Status.UNKNOWN, None
            )
            self._next_id += 1
            pending = self._pending[op_id] = PendingOperation(self, invoked)
        return pending

    @contextmanager
    def operation(
        self,
        process: Process,
        key: Text,
        kind: Kind | str,
        value: Text | None = None,
        expected: Text | int | None = None,
    ) -> Iterator[PendingOperation]:
        """`begin()` as a block: an exception records fail/unknown and propagates."""
        pending = self.begin(process, key, kind, value, expected)
        try:
            yield pending
        except BaseException as exc:
            if not pending.done:
                if self.definite_failure(exc):
                    pending.fail()
                else:
                    pending.unknown()
            raise
        if not pending.done:
            pending.unknown()
            raise HistoryError(f"operation {pending.id} ({kind} {key!r}) ended without ok() or fail()")

    def history(self) -> list[Operation]:
        """Every operation so far in invocation order; those still in flight as `unknown`."""
        with self._lock:
            finished = dict(self._finished)
            finished.update((op_id, p.invoked) for op_id, p in self._pending.items())
        return [finished[op_id] for op_id in sorted(finished)]

    def _finish(self, pending: PendingOperation, op: Operation) -> None:
        with self._lock:
            if self._pending.pop(pending.id, None) is None:
                raise HistoryError(f"operation {pending.id} was already finished")
            self._finished[pending.id] = op


class PendingOperation:
    """An invoked operation waiting for its outcome; exactly one of ok/fail/unknown ends it.

    `invoked` is the operation as it stands while in flight: `unknown`.
    """

    def __init__(self, recorder: Recorder, invoked: Operation) -> None:
        self._recorder = recorder
        self.invoked = invoked
        self.done = False

    @property
    def id(self) -> int:
        return self.invoked.id

    def ok(
        self, value: Text | None = _UNSET, *, applied: bool | None = None, revision: int | None = None
    ) -> None:
        """The store answered. A read must pass `value` (None: the key is absent)."""
        self._check_open()
        if self.invoked.kind is Kind.READ and value is _UNSET:
            raise HistoryError(f"operation {self.id}: an ok read must say what it read (value=None: absent)")
        read = None if value is _UNSET or value is None else text(value)
        self._end(Status.OK, self._recorder.clock(), Output(read, applied, revision))

    def fail(self) -> None:
        """It definitely did not take effect."""
        self._check_open()
        self._end(Status.FAIL, self._recorder.clock(), None)

    def unknown(self) -> None:
        """It may or may not have taken effect (timeout, lost connection)."""
        self._end(Status.UNKNOWN, None, None)

    def _check_open(self) -> None:
        if self.done:
            raise HistoryError(f"operation {self.id} was already finished")

    def _end(self, status: Status, complete: float | None, output: Output | None) -> None:
        self._check_open()
        op = replace(self.invoked, status=status, complete=complete, output=output)
        self.done = True
        self._recorder._finish(self, op)
