"""The linearizability checker and the history recorder (tests/store/linearizability.py, history.py).

Histories are written one operation a line, the way `Operation.__str__` prints them:

    <process> <invoke> <complete, ? if unknown> <kind> [args] [-> output | !fail]

    a 0 10 write x -> @3          ok write of x that got revision 3
    b 5 15 read -> x@3            ok read of x with mod_revision 3 (nil: absent)
    c 2 ? write y                 unknown: timed out, may or may not have happened
    d 0 1 cas v0 y -> applied@4   if value == v0 then put y (nil: if absent)
    e 0 1 cas_revision 3 y -> not-applied
    f 0 1 delete -> applied
    g 0 1 write z !fail           definitely did not happen

Beyond the hand-written cases: a seeded simulation of a correct register under random concurrency
(always linearizable) and its mutation (one read made impossible: always caught), a brute-force
checker compared with the real one on tiny random histories, the recorder under threads and
asyncio, JSON round trips, and a printed performance measurement.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from tests.store import history as h
from tests.store.history import HistoryError, Kind, Operation, Output, Recorder, Status
from tests.store.linearizability import ABSENT, State, Transition, Verdict, check, transition

# ---------------------------------------------------------------------------------------------------
# The notation


def _word(word: str) -> str | None:
    return None if word == "nil" else word.strip("'\"")


def _output(kind: Kind, text: str) -> Output:
    body, _, revision = text.partition("@")
    rev = int(revision) if revision else None
    if kind is Kind.READ:
        return Output(value=_word(body), revision=rev)
    applied = {"applied": True, "not-applied": False, "ok": None, "": None}[body]
    return Output(applied=applied, revision=rev)


def ops(*rows: str, key: str = "k", first_id: int = 0) -> list[Operation]:
    """Operations on `key` from the notation in the module docstring."""
    result = []
    for n, row in enumerate(rows):
        left, arrow, right = row.partition("->")
        words = left.split()
        failed = words[-1] == "!fail"
        if failed:
            words.pop()
        process, invoke, complete, kind_name, *args = words
        kind = Kind(kind_name)
        value: str | None = None
        expected: str | int | None = None
        if kind is Kind.WRITE:
            value = _word(args[0])
        elif kind is Kind.CAS:
            expected, value = _word(args[0]), _word(args[1])
        elif kind is Kind.CAS_REVISION:
            expected, value = int(args[0]), _word(args[1])
        if complete == "?":
            status, end, out = Status.UNKNOWN, None, None
        elif failed:
            status, end, out = Status.FAIL, float(complete), None
        else:
            status, end = Status.OK, float(complete)
            out = _output(kind, right.strip() if arrow else "")
        result.append(
            Operation(first_id + n, process, key, kind, value, expected, float(invoke), end, status, out)
        )
    return result


def test_the_notation_reads_back_what_operations_print() -> None:
    row = ops("a 0 10 cas_revision 3 y -> applied@4")[0]
    assert str(row) == "#0 p=a [0, 10] cas_revision 3 'y' -> applied@4"
    assert str(ops("b 5 ? write x")[0]) == "#0 p=b [5, ?] write 'x'"
    assert str(ops("b 5 6 read -> nil")[0]) == "#0 p=b [5, 6] read -> nil"


# ---------------------------------------------------------------------------------------------------
# Hand-written histories

LEGAL = {
    "sequential": ["a 0 1 write x", "a 2 3 read -> x", "a 4 5 write y", "a 6 7 read -> y", "a 8 9 delete -> applied", "a 10 11 read -> nil"],
    "overlapping writes read as x": ["a 0 10 write x", "b 5 15 write y", "c 20 21 read -> x"],
    "overlapping writes read as y": ["a 0 10 write x", "b 5 15 write y", "c 20 21 read -> y"],
    "a read sees a concurrent write": ["a 0 10 write x", "b 2 3 read -> x"],
    "a read misses a concurrent write": ["a 0 10 write x", "b 2 3 read -> nil", "b 11 12 read -> x"],
    "concurrent reads see a write in different places": ["a 0 10 write x", "b 1 9 read -> x", "c 2 8 read -> nil"],
    "an unknown write that happened": ["a 0 ? write x", "b 5 6 read -> x"],
    "an unknown write that did not happen": ["a 0 ? write x", "b 5 6 read -> nil", "b 7 8 read -> nil"],
    "an unknown write that happened after everything else": ["a 0 1 write y", "b 2 ? write x", "a 3 4 write z", "c 5 6 read -> z", "c 7 8 read -> x"],
    "a failed write never happened": ["a 0 1 write x !fail", "b 2 3 read -> nil"],
    "a cas race exactly one wins": ["a 0 1 write v0", "b 2 10 cas v0 b -> applied", "c 2 10 cas v0 c -> not-applied", "d 11 12 read -> b"],
    "a cas chain": ["a 0 1 write 0", "b 2 3 cas 0 1 -> applied", "c 2 5 cas 1 2 -> applied", "a 6 7 cas 1 3 -> not-applied", "a 8 9 read -> 2"],
    "create if absent: one wins": ["a 0 5 cas nil x -> applied", "b 0 5 cas nil y -> not-applied", "c 6 7 read -> x"],
    "a value compare never matches an absent key": ["a 0 1 cas x y -> not-applied", "a 2 3 read -> nil"],
    "deleting an absent key changes nothing": ["a 0 1 delete -> not-applied", "a 2 3 read -> nil"],
    "an unknown cas that applied": ["a 0 1 write x", "b 2 ? cas x y", "c 3 4 read -> y"],
    "an unknown delete that applied late": ["a 0 1 write x", "b 2 ? delete", "c 3 4 read -> x", "c 5 6 read -> nil"],
    "touching intervals are concurrent": ["a 0 5 write x", "b 5 6 read -> nil"],
    "revisions increase and are observed": ["a 0 1 write x -> @2", "a 2 3 read -> x@2", "b 4 5 cas_revision 2 y -> applied@3", "c 6 7 cas_revision 2 z -> not-applied", "a 8 9 read -> y@3"],
    "cas_revision 0 creates an absent key": ["a 0 1 cas_revision 0 x -> applied@5", "b 2 3 cas_revision 0 y -> not-applied", "a 4 5 read -> x@5"],
    "a read binds an unknown write's revision": ["a 0 ? write x", "b 5 6 read -> x@9", "b 7 8 cas_revision 9 y -> applied@10"],
    "an unrecorded revision may differ from a compare": ["a 0 1 write x", "b 2 3 cas_revision 5 y -> not-applied", "b 4 5 read -> x@7"],
    "a delete's revision orders the next write": ["a 0 1 write x -> @2", "a 2 3 delete -> applied@3", "a 4 5 write y -> @4", "a 6 7 read -> y@4"],
}  # fmt: skip

ILLEGAL = {
    "a stale read after a completed write": ["a 0 1 write x", "a 2 3 write y", "b 4 5 read -> x"],
    "a read of a value never written": ["a 0 1 write x", "b 2 3 read -> z"],
    "two cas succeed on the same expected value": ["a 0 1 write v0", "b 2 10 cas v0 b -> applied", "c 2 10 cas v0 c -> applied"],
    "two creates succeed": ["a 0 5 cas nil x -> applied", "b 0 5 cas nil y -> applied"],
    "a read goes back in time": ["a 0 1 write x", "a 2 20 write y", "b 3 4 read -> y", "c 5 6 read -> x"],
    "a lost acknowledged write": ["a 0 1 write x", "b 2 3 read -> nil"],
    "a failed write was observed": ["a 0 1 write x !fail", "b 2 3 read -> x"],
    "an unknown write seen then unseen": ["a 0 ? write x", "b 2 3 read -> x", "b 4 5 read -> nil"],
    "an unknown write seen before it was invoked": ["b 0 1 read -> x", "a 2 ? write x"],
    "a cas not applied although it matched": ["a 0 1 write x", "b 2 3 cas x y -> not-applied"],
    "a delete applied on an absent key": ["a 0 1 delete -> applied"],
    "a delete not applied on a present key": ["a 0 1 write x", "a 2 3 delete -> not-applied"],
    "a revision goes backwards": ["a 0 1 write x -> @5", "a 2 3 write y -> @4"],
    "a read with the wrong revision": ["a 0 1 write x -> @5", "a 2 3 read -> x@6"],
    "cas_revision on an overwritten revision": ["a 0 1 write x -> @2", "a 2 3 write y -> @3", "b 4 5 cas_revision 2 z -> applied@4"],
    "cas_revision 0 on a present key": ["a 0 1 write x", "b 2 3 cas_revision 0 y -> applied"],
    "a bound revision contradicted": ["a 0 ? write x", "b 2 3 read -> x@7", "b 4 5 read -> x@8"],
}  # fmt: skip


@pytest.mark.parametrize("rows", LEGAL.values(), ids=LEGAL.keys())
def test_legal_history(rows: list[str]) -> None:
    result = check(ops(*rows))
    assert result.verdict is Verdict.LINEARIZABLE, result.explain()
    assert result.violation is None


@pytest.mark.parametrize("rows", ILLEGAL.values(), ids=ILLEGAL.keys())
def test_illegal_history(rows: list[str]) -> None:
    result = check(ops(*rows))
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.violation is not None and result.violation.key == "k"


def test_a_violation_names_the_prefix_the_state_and_the_operation_that_could_not_be_placed() -> None:
    history = ops("a 0 1 write x", "a 2 3 write y", "c 3.5 10 cas q z -> applied", "b 4 5 read -> x")
    violation = check(history).violation
    assert violation is not None
    assert [op.value for op in violation.prefix] == ["x", "y"]
    assert violation.register == "'y'"
    assert violation.stuck is history[3]
    assert violation.candidates == (history[2],)
    text = violation.explain()
    assert "no linearization places #3 p=b [4, 5] read -> 'x'" in text
    assert "register after it: 'y'" in text
    assert "#2 p=c [3.5, 10] cas 'q' 'z' -> applied" in text


def test_a_violation_shows_the_register_with_its_revision_when_revisions_are_recorded() -> None:
    violation = check(ops("a 0 1 write x -> @5", "a 2 3 read -> x@6")).violation
    assert violation is not None and violation.register == "'x' (mod_revision 5)"
    violation = check(ops("a 0 ? write x", "a 2 3 read -> x@7", "b 4 5 read -> x@8")).violation
    assert violation is not None and violation.register == "'x' (mod_revision 7)"


def test_keys_are_independent_registers_and_the_first_failing_key_is_reported() -> None:
    history = [
        *ops("a 0 1 write x", "a 2 3 read -> x", key="good"),
        *ops("a 1 2 read -> nil", "b 4 5 read -> q", key="bad", first_id=10),
        *ops("a 3 4 read -> never", key="worse", first_id=20),
    ]
    result = check(history)
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.violation is not None and result.violation.key == "bad"
    assert result.keys == 2  # "worse" was never searched


def test_initial_values_are_present_with_an_unknown_revision() -> None:
    history = ops("a 0 1 read -> x@4", "a 2 3 cas_revision 4 y -> applied@9")
    assert not check(history).ok
    assert check(history, initial={"k": "x"}).ok
    assert check([]).ok


def test_a_step_budget_makes_a_hard_history_undetermined() -> None:
    history = simulate(Workload(seed=1, clients=8, ops_per_client=40, keys=1))
    result = check(history, max_steps=10)
    assert result.verdict is Verdict.UNDETERMINED and result.undetermined_keys == ("k0",)
    assert "undetermined" in result.explain()


# ---------------------------------------------------------------------------------------------------
# Generated histories: a correct register under random concurrency, and its mutations


@dataclass(frozen=True)
class Workload:
    seed: int
    clients: int = 5
    ops_per_client: int = 30
    keys: int = 2
    unique_values: bool = True
    revisions: bool = True
    p_unknown: float = 0.1
    p_fail: float = 0.05


def simulate(w: Workload) -> list[Operation]:
    """A history of a correct store: every operation that takes effect does so at an instant chosen
    at random inside its interval (after its invocation, for unknown ones), in one global order."""
    rng = random.Random(w.seed)
    kinds = [Kind.READ] * 8 + [Kind.WRITE] * 5 + [Kind.CAS] * 3 + [Kind.DELETE] * 2
    if w.revisions:
        kinds += [Kind.CAS_REVISION] * 2
    plans = []  # (invoke, complete, instant or None if it never takes effect, process, key, kind, value, status)
    for client in range(w.clients):
        t = rng.uniform(0, 1)
        for n in range(w.ops_per_client):
            kind = rng.choice(kinds)
            key = f"k{rng.randrange(w.keys)}"
            value = f"{client}.{n}" if w.unique_values else rng.choice("abc")
            duration = rng.expovariate(1.0)
            outcome = rng.random()
            if outcome < w.p_unknown:
                status, instant = Status.UNKNOWN, (t + rng.expovariate(0.2) if rng.random() < 0.5 else None)
            elif outcome < w.p_unknown + w.p_fail:
                status, instant = Status.FAIL, None
            else:
                status, instant = Status.OK, t + rng.random() * duration
            plans.append((t, t + duration, instant, client, key, kind, value, status))
            t += duration + rng.expovariate(2.0)
    plans.sort()
    revision = 1
    state: dict[str, tuple[str | None, int]] = {}  # key -> (value, mod_revision)
    written: dict[str, list[str]] = {}
    outputs: dict[int, Output | None] = {}
    expectations: dict[int, str | int | None] = {}
    for i in sorted((i for i, p in enumerate(plans) if p[2] is not None), key=lambda i: plans[i][2] or 0.0):
        _, _, _, _, key, kind, value, _ = plans[i]
        current, mod = state.get(key, (None, 0))
        record = w.revisions and rng.random() < 0.7
        changed = False
        if kind is Kind.READ:
            outputs[i] = Output(value=current, revision=mod if record and current is not None else None)
            continue
        if kind is Kind.WRITE:
            changed, new = True, value
        elif kind is Kind.DELETE:
            changed, new = current is not None, None
        elif kind is Kind.CAS:
            pool = [*written.get(key, []), None]
            expected: str | int | None = current if rng.random() < 0.5 else rng.choice(pool)
            expectations[i] = expected
            changed = current == expected if expected is not None else current is None
            new = value
        else:
            expected = (
                (mod if current is not None else 0) if rng.random() < 0.5 else rng.randrange(revision + 1)
            )
            expectations[i] = expected
            changed, new = (mod if current is not None else 0) == expected, value
        if changed:
            revision += 1
            state[key] = (new, revision)
            if new is not None:
                written.setdefault(key, []).append(new)
        applied = changed if kind is not Kind.WRITE else None
        outputs[i] = Output(applied=applied, revision=revision if changed and record else None)
    history = []
    for i, (invoke, complete, _, process, key, kind, value, status) in enumerate(plans):
        if kind in (Kind.CAS, Kind.CAS_REVISION) and i not in expectations:  # never took effect
            expectations[i] = rng.choice([None, value]) if kind is Kind.CAS else rng.randrange(revision + 1)
        history.append(
            Operation(
                id=i,
                process=process,
                key=key,
                kind=kind,
                value=value if kind in h.WRITES_VALUE else None,
                expected=expectations.get(i),
                invoke=invoke,
                complete=None if status is Status.UNKNOWN else complete,
                status=status,
                output=outputs.get(i) if status is Status.OK else None,
            )
        )
    return history


def impossible_read(history: list[Operation], rng: random.Random) -> tuple[int, str] | None:
    """A read to mutate and a value it cannot have returned, or None if the history has no ok read.

    Values are unique per write. Three kinds of impossible value: one never written; one written only
    by operations invoked after the read completed (from the future); one whose only write completed
    before another write to the key that completed before the read was invoked (overwritten).
    """
    reads = [op for op in history if op.kind is Kind.READ and op.status is Status.OK]
    if not reads:
        return None
    read = rng.choice(reads)
    on_key = [op for op in history if op.key == read.key and op.kind in h.WRITES_VALUE]
    assert read.complete is not None
    future = [op.value for op in on_key if op.invoke > read.complete and op.value is not None]
    changes = [op for op in history if op.key == read.key and _definitely_changed(op)]
    stale = [
        op.value
        for op in changes
        if op.value is not None
        and any(
            op.complete is not None and op.complete < o.invoke and (o.complete or 0) < read.invoke
            for o in changes
        )
    ]
    options = [f"never-{read.id}", *future[:1], *stale[-1:]]
    return read.id, rng.choice(options)


def _definitely_changed(op: Operation) -> bool:
    if op.status is not Status.OK or op.output is None:
        return False
    return op.kind is Kind.WRITE or op.output.applied is True


def mutate(history: list[Operation], op_id: int, value: str) -> list[Operation]:
    return [replace(op, output=Output(value=value)) if op.id == op_id else op for op in history]


WORKLOADS = [
    Workload(seed=seed, unique_values=seed % 3 != 0, revisions=seed % 2 == 0, keys=1 + seed % 3)
    for seed in range(300)
]


def test_the_simulation_is_valid_and_varied() -> None:
    history = [op for seed in range(20) for op in simulate(Workload(seed))]
    statuses = {op.status for op in history}
    kinds = {op.kind for op in history}
    assert statuses == set(Status) and kinds == set(Kind)
    applied = [op.output.applied for op in history if op.output is not None and op.kind is Kind.CAS]
    assert 0.2 < sum(map(bool, applied)) / len(applied) < 0.8


def test_simulated_correct_registers_are_linearizable() -> None:
    for workload in WORKLOADS:
        history = simulate(workload)
        result = check(history)
        assert result.ok, f"{workload}\n{result.explain()}"


def test_one_impossible_read_is_always_caught() -> None:
    caught = 0
    for workload in WORKLOADS:
        history = simulate(replace(workload, unique_values=True))
        choice = impossible_read(history, random.Random(workload.seed))
        if choice is None:
            continue
        read_id, value = choice
        result = check(mutate(history, read_id, value))
        assert result.verdict is Verdict.NOT_LINEARIZABLE, f"{workload}: read #{read_id} -> {value!r}"
        assert result.violation is not None
        assert result.violation.key == next(op.key for op in history if op.id == read_id)
        caught += 1
    assert caught > 250


# ---------------------------------------------------------------------------------------------------
# A brute-force checker, compared with the real one on tiny random histories


def naive_linearizable(history: list[Operation]) -> bool:
    """Try every subset of unknown operations and every real-time-respecting order of the rest,
    against a register written out directly (values only: these histories record no revisions)."""
    for key in {op.key for op in history}:
        ops_ = [op for op in history if op.key == key and op.status is not Status.FAIL]
        definite = [op for op in ops_ if op.status is Status.OK]
        maybe = [op for op in ops_ if op.status is Status.UNKNOWN and op.kind is not Kind.READ]
        if not any(
            _some_order(definite + list(chosen), None)
            for size in range(len(maybe) + 1)
            for chosen in itertools.combinations(maybe, size)
        ):
            return False
    return True


def _some_order(remaining: list[Operation], value: str | None) -> bool:
    if not remaining:
        return True
    deadline = min(op.complete if op.complete is not None else float("inf") for op in remaining)
    for op in remaining:
        if op.invoke <= deadline:
            possible, after = _apply(op, value)
            if possible and _some_order([o for o in remaining if o is not op], after):
                return True
    return False


def _apply(op: Operation, value: str | None) -> tuple[bool, str | None]:
    """Whether `op`'s output is possible on a register holding `value`, and the register after it."""
    out = op.output
    if op.kind is Kind.READ:
        assert out is not None
        return out.value == value, value
    if op.kind is Kind.WRITE:
        return True, op.value
    if op.kind is Kind.DELETE:
        happens = value is not None
    else:
        happens = value is None if op.expected is None else value == op.expected
    if out is not None and out.applied is not None and out.applied != happens:
        return False, value
    if not happens:
        return True, value
    return True, None if op.kind is Kind.DELETE else op.value


def tiny_history(rng: random.Random) -> list[Operation]:
    history: list[Operation] = []
    for process in "abc":
        t = rng.randrange(3)
        for _ in range(rng.randrange(1, 4)):
            kind = rng.choice([Kind.READ, Kind.READ, Kind.WRITE, Kind.WRITE, Kind.DELETE, Kind.CAS])
            end = t + rng.randrange(0, 4)
            status = rng.choices(list(Status), weights=[7, 1, 2])[0]
            value = rng.choice("xy") if kind in h.WRITES_VALUE else None
            expected = rng.choice(["x", "y", None]) if kind is Kind.CAS else None
            out = None
            if status is Status.OK:
                applied = rng.choice([True, False]) if kind in h.CONDITIONAL else None
                out = (
                    Output(value=rng.choice(["x", "y", None]), applied=applied)
                    if kind is Kind.READ
                    else Output(applied=applied)
                )
            complete = None if status is Status.UNKNOWN else float(end)
            history.append(
                Operation(
                    len(history),
                    process,
                    rng.choice("kj"),
                    kind,
                    value,
                    expected,
                    float(t),
                    complete,
                    status,
                    out,
                )
            )
            t = end + rng.randrange(0, 2)
    return history


def test_the_checker_agrees_with_brute_force_on_tiny_random_histories() -> None:
    verdicts = {True: 0, False: 0}
    for seed in range(600):
        history = tiny_history(random.Random(seed))
        expected = naive_linearizable(history)
        result = check(history)
        assert result.ok == expected, f"seed {seed}: brute force says {expected}\n" + "\n".join(
            map(str, history)
        )
        verdicts[expected] += 1
    assert min(verdicts.values()) > 100, verdicts  # both answers are well represented


def brute_force_with_the_model(history: list[Operation]) -> bool:
    """Every subset of unknown operations in every real-time-respecting order, stepped through the
    checker's own transitions: this checks the search (its rules and memo), not the model."""
    for key in {op.key for op in history}:
        ops_ = [op for op in history if op.key == key and op.status is not Status.FAIL]
        track = any(op.kind is Kind.CAS_REVISION or (op.output and op.output.revision) for op in ops_)
        definite = [op for op in ops_ if op.status is Status.OK]
        maybe = [op for op in ops_ if op.status is Status.UNKNOWN and op.kind is not Kind.READ]
        steps = {op.id: transition(op, bool(track)) for op in ops_ if op.status is Status.OK or op in maybe}
        if not any(
            _some_model_order(definite + list(chosen), ABSENT, steps)
            for size in range(len(maybe) + 1)
            for chosen in itertools.combinations(maybe, size)
        ):
            return False
    return True


def _some_model_order(remaining: list[Operation], state: State, steps: dict[int, Transition]) -> bool:
    if not remaining:
        return True
    deadline = min(op.complete if op.complete is not None else float("inf") for op in remaining)
    for op in remaining:
        after = steps[op.id](state) if op.invoke <= deadline else None
        if after is not None and _some_model_order([o for o in remaining if o is not op], after, steps):
            return True
    return False


def perturbed(history: list[Operation], rng: random.Random) -> list[Operation]:
    """The history with one ok output changed a little (a value, a revision, an applied flag)."""
    oks = [op for op in history if op.status is Status.OK and op.output is not None]
    if not oks or rng.random() < 0.3:
        return history
    victim = rng.choice(oks)
    out = victim.output
    assert out is not None
    values = [op.value for op in history if op.value is not None] + [None]
    changes = [replace(out, revision=max(1, (out.revision or 2) + rng.choice([-1, 1])))]
    if victim.kind is Kind.READ:
        changes.append(Output(value=rng.choice(values)))
    if out.applied is not None:
        changes.append(Output(applied=not out.applied))
    try:
        return [replace(op, output=rng.choice(changes)) if op is victim else op for op in history]
    except HistoryError:
        return history


def test_the_search_agrees_with_brute_force_over_the_model_on_tiny_histories_with_revisions() -> None:
    verdicts = {True: 0, False: 0}
    for seed in range(400):
        rng = random.Random(seed)
        workload = Workload(
            seed,
            clients=3,
            ops_per_client=rng.choice([2, 3]),
            keys=1,
            unique_values=seed % 2 == 0,
            p_unknown=0.25,
            p_fail=0.1,
        )
        history = perturbed(simulate(workload), rng)
        expected = brute_force_with_the_model(history)
        assert check(history).ok == expected, f"seed {seed}: brute force says {expected}\n" + "\n".join(
            map(str, history)
        )
        verdicts[expected] += 1
    assert min(verdicts.values()) > 80, verdicts


def test_unknown_writes_nobody_reads_cost_almost_nothing() -> None:
    """Rule 4: two hundred timed-out writes of values no one read are one value to the model."""
    rows = [f"u{n} {n * 0.01} ? write lost{n}" for n in range(200)]
    rows += [f"a {10 + 2 * n} {11 + 2 * n} write v{n}" for n in range(50)]
    rows += [f"b {10.5 + 2 * n} {11.5 + 2 * n} read -> v{n}" for n in range(50)]
    rows += ["c 200 201 read -> nil"]  # impossible: the key was written and never deleted
    result = check(ops(*rows))
    assert result.verdict is Verdict.NOT_LINEARIZABLE
    assert result.steps < 20_000, result.steps


# ---------------------------------------------------------------------------------------------------
# The recorder


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_the_recorder_stamps_invocation_and_completion_and_ends_each_operation_once() -> None:
    recorder = Recorder(clock=FakeClock())
    with recorder.operation(1, b"k", "write", b"v") as op:
        op.ok(revision=2)
    with pytest.raises(HistoryError, match="already finished"):
        op.ok()
    with recorder.operation(1, "k", Kind.READ) as read:
        read.ok(b"v", revision=2)
    with recorder.operation(2, "k", "cas", "w", expected=b"v") as cas:
        cas.ok(applied=False)
    assert [str(op) for op in recorder.history()] == [
        "#0 p=1 [1, 2] write 'v' -> @2",
        "#1 p=1 [3, 4] read -> 'v'@2",
        "#2 p=2 [5, 6] cas 'v' 'w' -> not-applied",
    ]


def test_an_exception_records_unknown_unless_it_is_a_definite_failure() -> None:
    class Rejected(Exception):
        pass

    recorder = Recorder(clock=FakeClock(), definite_failure=lambda exc: isinstance(exc, Rejected))
    with pytest.raises(TimeoutError), recorder.operation("p", "k", "write", "a"):
        raise TimeoutError
    with pytest.raises(Rejected), recorder.operation("p", "k", "write", "b"):
        raise Rejected
    timed_out, rejected = recorder.history()
    assert (timed_out.status, timed_out.complete) == (Status.UNKNOWN, None)
    assert rejected.status is Status.FAIL and rejected.complete is not None


def test_misuse_is_an_error_at_the_call_site() -> None:
    recorder = Recorder(clock=FakeClock())
    with pytest.raises(HistoryError, match="without ok"), recorder.operation("p", "k", "write", "a"):
        pass
    with (
        pytest.raises(HistoryError, match="must say what it read"),
        recorder.operation("p", "k", "read") as op,
    ):
        op.ok()
    with (
        pytest.raises(HistoryError, match="must record whether it applied"),
        recorder.operation("p", "k", "cas", "b", "a") as op,
    ):
        op.ok()
    with pytest.raises(HistoryError, match="needs a value"):
        recorder.begin("p", "k", "write")
    assert [op.status for op in recorder.history()] == [Status.UNKNOWN] * 3


def test_operations_in_flight_are_unknown() -> None:
    recorder = Recorder(clock=FakeClock())
    pending = recorder.begin("p", "k", "write", "a")
    assert recorder.history()[0].status is Status.UNKNOWN
    pending.ok()
    assert recorder.history()[0].status is Status.OK


class LockedRegister:
    """A correct store: one lock, a global revision."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, tuple[str, int]] = {}
        self.revision = 1

    def put(self, key: str, value: str) -> int:
        with self.lock:
            self.revision += 1
            self.values[key] = (value, self.revision)
            return self.revision

    def get(self, key: str) -> tuple[str, int] | None:
        with self.lock:
            return self.values.get(key)


def test_threads_recording_against_a_correct_store_give_a_linearizable_history() -> None:
    store, recorder = LockedRegister(), Recorder()

    def client(process: int) -> None:
        rng = random.Random(process)
        for n in range(200):
            key = rng.choice("ab")
            if rng.random() < 0.5:
                with recorder.operation(process, key, "write", f"{process}.{n}") as op:
                    op.ok(revision=store.put(key, f"{process}.{n}"))
            else:
                with recorder.operation(process, key, "read") as op:
                    found = store.get(key)
                    op.ok(found and found[0], revision=found and found[1])

    threads = [threading.Thread(target=client, args=(p,)) for p in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = recorder.history()
    assert [op.id for op in history] == list(range(1600))
    result = check(history)
    assert result.ok, result.explain()


def test_asyncio_tasks_record_and_cancellation_is_unknown() -> None:
    async def main() -> list[Operation]:
        recorder = Recorder()
        value: list[str | None] = [None]

        async def client(process: int) -> None:
            for n in range(50):
                if n % 2:
                    with recorder.operation(process, "k", "read") as op:
                        await asyncio.sleep(0)
                        seen = value[0]
                        await asyncio.sleep(0)
                        op.ok(seen)
                else:
                    with recorder.operation(process, "k", "write", f"{process}.{n}") as op:
                        await asyncio.sleep(0)
                        value[0] = f"{process}.{n}"
                        await asyncio.sleep(0)
                        op.ok()

        async def hangs() -> None:
            with recorder.operation("stuck", "k", "write", "never"):
                await asyncio.Event().wait()

        stuck = asyncio.create_task(hangs())
        async with asyncio.TaskGroup() as group:
            for process in range(4):
                group.create_task(client(process))
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        return recorder.history()

    history = asyncio.run(main())
    assert history[0].process == "stuck" and history[0].status is Status.UNKNOWN
    assert check(history).ok


def test_a_store_that_reads_from_a_lagging_replica_is_caught() -> None:
    clock = FakeClock()
    recorder = Recorder(clock=clock)
    leader: dict[str, str] = {}
    follower: dict[str, str] = {}  # replication never arrives
    with recorder.operation("writer", "k", "write", "v1") as op:
        leader["k"] = "v1"
        op.ok()
    with recorder.operation("reader", "k", "read") as op:
        op.ok(follower.get("k"))
    result = check(recorder.history())
    assert result.violation is not None
    assert result.violation.stuck.process == "reader"


# ---------------------------------------------------------------------------------------------------
# JSON lines


def test_histories_round_trip_through_json_lines(tmp_path: Path) -> None:
    history = simulate(Workload(seed=7, keys=3))
    history.append(ops("z 0 1 write '\udcff\udc80'", key="\udcfe")[0])  # bytes that are not UTF-8
    assert h.loads(h.dumps(history)) == history
    h.save(tmp_path / "history.jsonl", history)
    replayed = h.load(tmp_path / "history.jsonl")
    assert replayed == history
    assert check(replayed).ok == check(history).ok


def test_malformed_lines_are_rejected_with_their_line_number() -> None:
    good = h.dumps(ops("a 0 1 write x"))
    with pytest.raises(HistoryError, match="line 2"):
        h.loads(good + '{"id": 1}\n')
    with pytest.raises(
        HistoryError, match="line 1: operation 0: an unknown operation has no completion time"
    ):
        h.loads(good.replace('"status":"ok"', '"status":"unknown"'))


# ---------------------------------------------------------------------------------------------------
# Performance: printed, not asserted


def _timed(history: list[Operation]) -> tuple[float, Verdict, int]:
    start = time.perf_counter()
    result = check(history)
    return time.perf_counter() - start, result.verdict, result.steps


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Iterator[list[str]]:
    lines: list[str] = []
    yield lines
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def with_faults(history: list[Operation], faults: int, seed: int) -> list[Operation]:
    """At `faults` random instants every operation in flight times out: it becomes unknown."""
    rng = random.Random(seed)
    end = max(op.complete or op.invoke for op in history)
    instants = [rng.uniform(0, end) for _ in range(faults)]

    def cut(op: Operation) -> bool:
        return op.status is Status.OK and any(op.invoke <= t <= (op.complete or 0) for t in instants)

    return [
        replace(op, status=Status.UNKNOWN, complete=None, output=None) if cut(op) else op for op in history
    ]


PERFORMANCE = [  # (operations per client, unknown at random, faults that cut all in flight, mutate too)
    (100, 0.0, 0, True),
    (300, 0.0, 0, True),
    (500, 0.0, 0, True),
    (100, 0.02, 0, True),
    (300, 0.0, 5, False),  # with one impossible read: about 4M steps, 7 s (see the checker's docstring)
]


def test_performance_of_a_few_thousand_operations_per_key(report: list[str]) -> None:
    clients = 10
    for per_client, p_unknown, faults, with_mutation in PERFORMANCE:
        workload = Workload(
            seed=3, clients=clients, ops_per_client=per_client, keys=1, p_unknown=p_unknown, p_fail=0.0
        )
        history = with_faults(simulate(workload), faults, seed=1)
        unknown = sum(op.status is Status.UNKNOWN for op in history)
        seconds, verdict, steps = _timed(history)
        assert verdict is Verdict.LINEARIZABLE
        report.append(
            f"linearizability: {len(history)} ops on one key, {clients} clients, {unknown} unknown: "
            f"{seconds:.2f} s, {len(history) / seconds:,.0f} ops/s, {steps} steps"
        )
        choice = impossible_read(history, random.Random(0))
        assert choice is not None
        if not with_mutation:
            continue
        seconds, verdict, steps = _timed(mutate(history, *choice))
        assert verdict is Verdict.NOT_LINEARIZABLE
        report.append(f"  the same with one impossible read: {seconds:.2f} s, {steps} steps")
