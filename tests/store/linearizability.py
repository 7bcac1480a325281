"""A linearizability checker for histories of etcd-style register operations (see history.py).

A history is linearizable when every operation can be given one instant, between its invocation and
its completion, such that executing the operations one at a time in the order of those instants,
against a single correct register, yields exactly the outputs the clients saw. `fail` operations
never happened and are dropped; `unknown` ones may be given an instant anywhere after their
invocation, or none at all.

## The model: one register per key, with etcd's semantics

State: the value (None: absent) and the key's last change revision. Transitions, per kind:
- read: legal iff the value read equals the state's value (None for absent); a recorded
  `revision` must equal the key's mod_revision (absent keys have no kv, so no revision).
- write: the state becomes the new value at the write's revision.
- delete: on a present key it makes the key absent (`applied` must not be False); on an absent key
  it changes nothing (`applied` must not be True).
- cas: applies iff the state's value equals `expected`, where `expected=None` means "the key is
  absent" (etcd's `version == 0` compare; etcd's value compare is always false on a missing key).
  `applied` must agree; an applied CAS writes like a write, one not applied is a read of the state.
- cas_revision: the same with the key's mod_revision as the compared quantity; an absent key has
  mod_revision 0, so `expected=0` is "create if absent".
- every recorded change revision must be greater than the key's previous change revision: etcd's
  revisions increase in apply order, so they must increase in linearization order.

Revisions that were not recorded (an `unknown` write, an ok write without `revision`) leave the
state's revision *inexact*: the register keeps a lower bound instead, and the first read or applied
CAS that observes an exact revision binds it. An absent key's revision (its tombstone's) is only
ever used as such a bound, so absent states are always inexact. Inequalities learnt from a CAS that
did not apply against an inexact revision are not kept, so the model may accept a history that
breaks them (it never rejects a legal one). When nothing in a key's history records or compares
revisions, revisions are not tracked at all, which keeps more states equal for the memo below.

P-compositionality: linearizability is local (Herlihy & Wing): a history is linearizable iff its
restriction to each object is. Each key is an independent register, so keys are checked one by one,
in order of their first invocation, and the first key that fails is reported. (etcd's revisions are
global across keys; cross-key constraints on them, e.g. two keys' writes sharing a revision, are not
checked.)

## The algorithm: Wing & Gong's search with Lowe's memo, as Porcupine implements it, plus care for
## unknown operations

The definite (ok) operations of a key become a doubly linked list of call and return events sorted
by time (at equal times calls come first, so operations that touch are treated as concurrent).
Walking the list from the head:
- at a call: try the operation on the current state; if legal and the resulting pair (set of
  linearized operations, state) is not known to fail, push (call, old state), lift the call and its
  return out of the list (dancing links) and start again from the head;
- at a return: that operation had to be linearized by now and is not. Try the unknown operations
  (below); if none helps, this pair fails: record it, pop the last linearized operation, restore
  its state, put it back into the list and try the next candidate after it. With an empty stack,
  the history is not linearizable.
When every definite operation is linearized the history is linearizable: the unknown operations
left over are placed after everything else (they never returned), where they are harmless.

Unknown operations never return, so each one stays a candidate from its invocation to the end and
a plain search would try every subset of them at every point. Four rules keep that in check, each
justified by rewriting a linearization into one the search does explore:
1. Unknown candidates are tried only after every definite candidate at a point has failed, and
   one that would not change the state (or only make it more constrained) is never tried: it can
   as well go last.
2. Right after an unknown operation u, an operation o is tried only if it *needs* u: if o is legal
   without u and (o) or (o, u) ends in a state that covers the one (u, o) ends in, that order is
   explored instead (`_needless`). Consequently only a compare-and-swap can follow an unknown
   operation among the unknown ones; unknown writes and deletes are only tried right before a
   definite operation that needs them, "just in time".
3. The memo records failed pairs and prunes a new pair that a failed one *dominates*: same
   definite set, a subset of its unknown operations, a state that covers it (`_covers`). Whatever
   completes the new pair completes the failed one, with the extra unknown operations at the end.
   Pairs reached by an unknown operation are not recorded, since rule 2 restricted their search.
4. Unknown operations with the same effect are used in invocation order: the later one is tried
   only once the earlier one is linearized (swapping them changes nothing but names). Values that
   no read returns and no CAS compares with are one value to the model (`_Search.unobserved`),
   so unknown writes of such values all have the same effect.
Why this finds a linearization whenever one exists: rewrite any linearization until no rule
applies (drop an unknown operation that changes nothing; replace (u, o) by (o) or (o, u) as in
rule 2; swap twins as in rule 4; each step keeps it valid and drops an unknown operation, moves
one later or removes an inversion between twins, so this ends).
Follow the search along that canonical linearization: each next operation is a candidate and
legal, rules 1, 2 and 4 do not skip it; if rule 3 prunes it, the failed pair that dominates it has a
completion too, and it failed earlier, so the same argument applies to it with an earlier
failure, which cannot go on forever. The brute-force comparison in the tests checks this.

Invariants: the main list holds exactly the definite operations not yet linearized, in time order;
the candidates at a point are the calls before the first return in it, and the unknown operations
invoked no later than that return; the stack is a linearization of the linearized operations and
`state` the register after it; sets are Python ints used as bitsets.

Complexity: each step costs a transition and a dictionary look-up hashing a bitset of n bits
(n/64 words), and each point walks the unknown candidates. Distinct pairs are bounded by
(reachable linearized sets) x (states per set); reachable sets are downward closed in real-time
order, which bounds them by n * 2^c with c the concurrency, and states per set are few when written
values are distinct. So without unknown operations the worst case is exponential in c, not in n,
and a legal history usually costs close to O(n * c) steps: the first greedy attempt mostly
succeeds. An unknown operation stays a candidate from its invocation on, so it counts towards c at
every later point; the rules above keep a few percent of them cheap, and `max_steps` bounds the
work per key (a key that runs out is `undetermined`). Measured on one core (10 clients, one key, the
simulated register of tests/store/test_linearizability.py, whose performance test prints these):

    operations  unknown                 legal history        with one impossible read
    1000        0                       0.07 s, 31k steps    0.2 s, 114k steps
    3000        0                       0.3 s, 129k steps    0.9 s, 425k steps
    5000        0                       0.5 s, 187k steps    2.1 s, 905k steps
    1000        23 (2%, at random)      0.16 s, 150k steps   1.2 s, 704k steps
    3000        30 (5 faults)           0.5 s, 206k steps    7 s, 4.2M steps

A legal history is checked at 5,000-15,000 operations a second; proving a violation costs more,
and most where many unknown operations can stand in for one another (each may explain a read
somewhere): histories for fault tests are best spread over many keys, with a step budget.

No I/O, clock, threads or randomness here: `check()` is a pure function of the history.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from tests.store.history import Kind, Operation, Status

# (value, revision, exact). value None: absent. revision: the key's last change revision (of the
# tombstone when absent), exact, or an inclusive lower bound of it when `exact` is False.
State = tuple[str | None, int, bool]
Transition = Callable[[State], State | None]

ABSENT: State = (None, 0, False)  # see the model: absent states are inexact


class Verdict(StrEnum):
    LINEARIZABLE = "linearizable"
    NOT_LINEARIZABLE = "not linearizable"
    UNDETERMINED = "undetermined"  # the step budget ran out first


def describe_state(state: State, revisions: bool = True) -> str:
    value, revision, exact = state
    if value is None:
        return "absent"
    if not revisions:
        return repr(value)
    return f"{value!r} (mod_revision {'' if exact else '>= '}{revision})"


@dataclass(frozen=True)
class Violation:
    """Why a key's history is not linearizable, from the deepest point the search reached.

    `prefix` is the longest linearization found (in order) and `register` describes the register
    after it; `stuck` is the operation that had to take effect next (it completed before any other
    candidate could help) and could not, and `candidates` are the other operations that could have
    been placed there, none of which led anywhere either.
    """

    key: str
    prefix: tuple[Operation, ...]
    register: str
    stuck: Operation
    candidates: tuple[Operation, ...]

    def explain(self, context: int = 8) -> str:
        """A few lines a human can check by hand: the end of the prefix, the state, the culprit."""
        lines = [f"key {self.key!r}: no linearization places {self.stuck}"]
        shown = self.prefix[-context:]
        if len(self.prefix) > len(shown):
            lines.append(
                f"  longest linearizable prefix: {len(self.prefix)} operations; the last {len(shown)}:"
            )
        else:
            lines.append(f"  longest linearizable prefix ({len(self.prefix)} operations):")
        lines += [f"    {op}" for op in shown]
        lines.append(f"  register after it: {self.register}")
        if self.candidates:
            lines.append("  other operations that could have gone next:")
            lines += [f"    {op}" for op in self.candidates]
        return "\n".join(lines)


@dataclass(frozen=True)
class CheckResult:
    """The verdict over all keys; `violation` is set iff not linearizable."""

    verdict: Verdict
    violation: Violation | None = None
    undetermined_keys: tuple[str, ...] = ()
    keys: int = 0
    operations: int = 0  # operations searched (fail ops and unknown reads are dropped first)
    steps: int = 0  # transitions tried, over all keys
    states: int = 0  # (linearized set, state) pairs explored, over all keys
    per_key: dict[str, int] = field(default_factory=dict)  # steps per key

    @property
    def ok(self) -> bool:
        return self.verdict is Verdict.LINEARIZABLE

    def explain(self) -> str:
        if self.violation is not None:
            return self.violation.explain()
        if self.verdict is Verdict.UNDETERMINED:
            return f"undetermined: the step budget ran out on keys {list(self.undetermined_keys)}"
        return f"linearizable: {self.operations} operations on {self.keys} keys"


def check(
    history: Iterable[Operation],
    *,
    initial: Mapping[str, str] | None = None,
    max_steps: int | None = None,
) -> CheckResult:
    """Check a history key by key; stop at the first key that is not linearizable.

    `initial` gives values keys held before the history began (revision unknown); other keys start
    absent. `max_steps` bounds the transitions tried per key (None: no bound).
    """
    by_key: dict[str, list[Operation]] = {}
    for op in sorted(history, key=lambda op: (op.invoke, op.id)):
        if op.status is Status.FAIL or (op.status is Status.UNKNOWN and op.kind is Kind.READ):
            continue  # never happened / observed nothing: no effect either way
        by_key.setdefault(op.key, []).append(op)
    initial = initial or {}
    steps = states = operations = 0
    per_key: dict[str, int] = {}
    undetermined: list[str] = []
    for key, ops in by_key.items():
        start: State = (initial[key], 1, False) if key in initial else ABSENT
        search = _Search(key, ops, start, max_steps)
        verdict = search.run()
        steps += search.steps
        states += search.pushes
        operations += len(ops)
        per_key[key] = search.steps
        if verdict is Verdict.NOT_LINEARIZABLE:
            break
        if verdict is Verdict.UNDETERMINED:
            undetermined.append(key)
    else:
        verdict = Verdict.UNDETERMINED if undetermined else Verdict.LINEARIZABLE
    return CheckResult(
        verdict,
        search.violation() if verdict is Verdict.NOT_LINEARIZABLE else None,
        tuple(undetermined),
        keys=len(per_key),
        operations=operations,
        steps=steps,
        states=states,
        per_key=per_key,
    )


_VALUE_CAS, _REVISION_CAS = 1, 2
_CODES = {Kind.CAS: _VALUE_CAS, Kind.CAS_REVISION: _REVISION_CAS}


class _BudgetExhausted(Exception):
    pass


Frame = tuple[bool, int, State, int]  # (an unknown op?, its list position, state before it, first return)


class _Search:
    """One key's search; see the module docstring.

    The main list holds the definite operations' call and return events: positions 1..2d in time
    order, 0 its head, 2d+1 its end. Unknown operations, which never return, hold positions in a
    list of their own: 0 its head, then the writes and deletes in invocation order, the separator
    `self.compares`, then the compare-and-swaps in invocation order, then its end. Rule 2 lets only
    the second part follow an unknown operation, so the walk can start at the separator.
    """

    def __init__(self, key: str, ops: list[Operation], start: State, max_steps: int | None) -> None:
        self.key = key
        self.ops = ops
        self.max_steps = max_steps
        self.steps = 0  # transitions tried
        self.pushes = 0  # pairs explored
        # Values that no read returns and no CAS compares with are never told apart by any
        # transition, so they all become one value, `self.unobserved`: states that differ only in
        # them merge in the memo, and unknown writes of them become interchangeable (rule 4).
        observed = {op.output.value for op in ops if op.kind is Kind.READ and op.output is not None}
        observed |= {op.expected for op in ops if op.kind is Kind.CAS and isinstance(op.expected, str)}
        written = {op.value for op in ops if op.value is not None}
        self.unobserved = "\0unobserved"
        while self.unobserved in written or self.unobserved in observed:
            self.unobserved += "\0"

        def hidden(value: str) -> str:
            return value if value in observed else self.unobserved

        self.track = any(_uses_revisions(op) for op in ops)
        self.transitions = [transition(op, self.track, hidden) for op in ops]
        self.given_start = start
        self.start: State = start if start[0] is None else (hidden(start[0]), *start[1:])

        definite = [i for i, op in enumerate(ops) if op.status is Status.OK]
        events = sorted(
            [(ops[i].invoke, 0, i) for i in definite] + [(ops[i].complete or 0.0, 1, i) for i in definite]
        )
        size = len(events) + 2
        self.op_of = [-1] * size
        self.bit = [0] * size  # a call's bit in the set of linearized definite operations
        self.time = [math.inf] * size
        self.is_call = [False] * size
        self.match = [0] * size  # call -> its return
        call_at: dict[int, int] = {}
        for position, (when, is_return, i) in enumerate(events, 1):
            self.op_of[position], self.time[position] = i, when
            if is_return:
                self.match[call_at[i]] = position
            else:
                self.is_call[position] = True
                self.bit[position] = 1 << len(call_at)
                call_at[i] = position
        self.next = [*range(1, size), -1]
        self.prev = [-1, *range(size - 1)]

        unknown = sorted((ops[i].invoke, i) for i, op in enumerate(ops) if op.status is Status.UNKNOWN)
        plain = [i for _, i in unknown if ops[i].kind in (Kind.WRITE, Kind.DELETE)]
        compares = [i for _, i in unknown if ops[i].kind in (Kind.CAS, Kind.CAS_REVISION)]
        self.compares = len(plain) + 1
        self.u_op = [-1, *plain, -1, *compares, -1]
        self.u_invoke = [math.inf, *(ops[i].invoke for i in self.u_op[1:-1]), math.inf]
        self.u_invoke[self.compares] = -math.inf
        # For a CAS, what its compare needs, so a CAS that cannot apply is skipped cheaply (rule 1).
        self.u_code = [_CODES.get(ops[i].kind, 0) if i >= 0 else 0 for i in self.u_op]
        self.u_expect = [ops[i].expected if i >= 0 else None for i in self.u_op]
        self.u_twin = [0] * len(self.u_op)  # the previous unknown op with the same effect (rule 4)
        last: dict[tuple[Kind, str | None, str | int | None], int] = {}
        for position, i in enumerate(self.u_op):
            if i >= 0:
                op = ops[i]
                effect = (op.kind, None if op.value is None else hidden(op.value), op.expected)
                self.u_twin[position] = last.get(effect, 0)
                last[effect] = position
        self.u_next = [*range(1, len(self.u_op)), -1]
        self.u_prev = [-1, *range(len(self.u_op) - 1)]

        # (definite set, value, exact revision or -1) -> [(unknown set, revision lower bound)] of the
        # pairs that failed, only those that no other one dominates (rule 3, `_dominated`).
        self.failed: dict[tuple[int, str | None, int], list[tuple[int, int]]] = {}
        self.best: tuple[list[Frame], int, list[int]] | None = None  # the deepest point reached

    def run(self) -> Verdict:
        try:
            return Verdict.LINEARIZABLE if self._search() else Verdict.NOT_LINEARIZABLE
        except _BudgetExhausted:
            return Verdict.UNDETERMINED

    def _search(self) -> bool:
        nxt, prv, op_of, is_call, match, bit, time = (
            self.next,
            self.prev,
            self.op_of,
            self.is_call,
            self.match,
            self.bit,
            self.time,
        )
        u_nxt, u_prv, u_op, u_invoke, u_twin = self.u_next, self.u_prev, self.u_op, self.u_invoke, self.u_twin
        compares, u_code, u_expect = self.compares, self.u_code, self.u_expect
        transitions = self.transitions
        end = len(nxt) - 1
        budget = math.inf if self.max_steps is None else self.max_steps
        stack: list[Frame] = []
        state = self.start
        known = unknown = 0  # bitsets: linearized definite ops (by call order), unknown ops (by position)
        entry = nxt[0]  # where the walk is in the main list
        u = -1  # where it is in the unknown list; -1 while in the main list
        while True:
            if u < 0:
                if is_call[entry]:
                    self.steps += 1
                    if self.steps > budget:
                        raise _BudgetExhausted
                    after = transitions[op_of[entry]](state)
                    grown = known | bit[entry]
                    if (
                        after is not None
                        and not self._dominated(grown, unknown, after)
                        and not (stack and stack[-1][0] and self._needless(stack[-1], op_of[entry], after))
                    ):
                        stack.append((False, entry, state, 0))
                        state, known = after, grown
                        ret = match[entry]  # lift the call and its return out of the list
                        nxt[prv[entry]] = nxt[entry]
                        prv[nxt[entry]] = prv[entry]
                        nxt[prv[ret]] = nxt[ret]
                        prv[nxt[ret]] = prv[ret]
                        self.pushes += 1
                        entry = nxt[0]
                        continue
                    entry = nxt[entry]
                    continue
                if entry == end:
                    return True  # every definite operation is linearized; the unknown ones go last
                u = compares if stack and stack[-1][0] else u_nxt[0]
            # `entry` is the first return in the main list: try the unknown ops invoked before it.
            if u == compares:
                u = u_nxt[u]
                continue
            if u_invoke[u] <= time[entry]:
                if u_twin[u] and not unknown >> u_twin[u] & 1:  # rule 4: its twin goes first
                    u = u_nxt[u]
                    continue
                code = u_code[u]
                if code:  # a CAS whose compare fails here changes nothing (rule 1)
                    x, value = u_expect[u], state[0]
                    if code == _VALUE_CAS:
                        can_apply = value == x
                    elif value is None:
                        can_apply = x == 0
                    else:
                        can_apply = state[1] == x if state[2] else x >= state[1]  # type: ignore[operator]
                    if not can_apply:
                        u = u_nxt[u]
                        continue
                self.steps += 1
                if self.steps > budget:
                    raise _BudgetExhausted
                after = transitions[u_op[u]](state)
                assert after is not None, "transitions of unknown operations are total"
                grown = unknown | (1 << u)
                if (
                    not _covers(state, after)  # rule 1: it can as well go last
                    and not self._dominated(known, grown, after)
                    and not (stack and stack[-1][0] and self._needless(stack[-1], u_op[u], after))
                ):
                    stack.append((True, u, state, entry))
                    state, unknown = after, grown
                    u_nxt[u_prv[u]] = u_nxt[u]
                    u_prv[u_nxt[u]] = u_prv[u]
                    self.pushes += 1
                    entry, u = nxt[0], -1
                    continue
                u = u_nxt[u]
                continue
            if u < compares:  # the rest of the writes and deletes came later: on to the CASes
                u = compares
                continue
            # No candidate is left before `entry` returns: this pair fails. Backtrack.
            if self.best is None or len(stack) > len(self.best[0]):
                self._remember(stack, entry)
            if not stack:
                return False
            is_unknown, position, before, first_return = stack.pop()
            if is_unknown:
                unknown &= ~(1 << position)
                u_nxt[u_prv[position]] = position
                u_prv[u_nxt[position]] = position
                entry, u = first_return, u_nxt[position]
            else:
                self._fail(known, unknown, state)  # (rule 3: only pairs reached by a definite op)
                known &= ~bit[position]
                ret = match[position]  # unlift, in the reverse order of the lift
                nxt[prv[ret]] = ret
                prv[nxt[ret]] = ret
                nxt[prv[position]] = position
                prv[nxt[position]] = position
                entry, u = nxt[position], -1
            state = before

    def _needless(self, top: Frame, op: int, after: State) -> bool:
        """Rule 2: whether trying `op` right after the unknown op on top of the stack is needless.

        With u that unknown op and s the state before it: if `op` is legal from s, the orders (op)
        and (op, u) can be explored from s instead, and when either ends in a state that covers
        `after`, nothing is lost by skipping (u, op).
        """
        _, position, before, _ = top
        without = self.transitions[op](before)
        if without is None:
            return False
        return _covers(without, after) or _covers(self.transitions[self.u_op[position]](without), after)

    def _dominated(self, known: int, unknown: int, state: State) -> bool:
        """Rule 3: whether a failed pair has this definite set, a subset of these unknown ops and a
        state that covers this one (the same, or an inexact revision bound no higher)."""
        value, revision, exact = state
        failed = self.failed.get((known, value, revision if exact else -1))
        if failed is None:
            return False
        bound = 0 if exact else revision
        return any(not (old & ~unknown) and old_bound <= bound for old, old_bound in failed)

    def _fail(self, known: int, unknown: int, state: State) -> None:
        value, revision, exact = state
        failed = self.failed.setdefault((known, value, revision if exact else -1), [])
        bound = 0 if exact else revision
        failed[:] = [(old, old_bound) for old, old_bound in failed if (unknown & ~old) or bound > old_bound]
        failed.append((unknown, bound))  # what it dominates went: the list stays an antichain

    def _remember(self, stack: list[Frame], stuck: int) -> None:
        candidates = []
        entry = self.next[0]
        while entry != stuck:  # all calls: the first return in the list is `stuck`
            if self.op_of[entry] != self.op_of[stuck]:
                candidates.append(self.op_of[entry])
            entry = self.next[entry]
        candidates += [
            self.u_op[u]
            for u in self._unknown_positions()
            if u != self.compares and self.u_invoke[u] <= self.time[stuck]
        ]
        self.best = (stack[:], self.op_of[stuck], candidates)

    def _unknown_positions(self) -> list[int]:
        positions, u = [], self.u_next[0]
        while u != len(self.u_op) - 1:
            positions.append(u)
            u = self.u_next[u]
        return positions

    def violation(self) -> Violation:
        assert self.best is not None, "a failed search always passed a return"
        frames, stuck, candidates = self.best
        prefix = [self.u_op[p] if is_unknown else self.op_of[p] for is_unknown, p, _, _ in frames]
        # The register with its real value, not the merged one: replay the prefix without merging.
        state: State | None = self.given_start
        for i in prefix:
            assert state is not None
            state = transition(self.ops[i], self.track)(state)
        assert state is not None, "merging unobserved values changes no transition's legality"
        return Violation(
            self.key,
            tuple(self.ops[i] for i in prefix),
            describe_state(state, self.track),
            self.ops[stuck],
            tuple(self.ops[i] for i in candidates),
        )


def _covers(a: State | None, b: State) -> bool:
    """Whether every sequence of operations legal from `b` is legal from `a`, ending no less so.

    True for equal states, and for the same value where `a`'s revision is a lower bound no higher
    than `b`'s revision (exact or a bound): `a` admits every revision `b` does.
    """
    return a is not None and a[0] == b[0] and (a == b or (not a[2] and a[1] <= b[1]))


def _uses_revisions(op: Operation) -> bool:
    return op.kind is Kind.CAS_REVISION or (op.output is not None and op.output.revision is not None)


def transition(op: Operation, track_revisions: bool = True, hidden: Callable[[str], str] = str) -> Transition:
    """The operation as a partial function on register states: the next state, or None if illegal.

    For `unknown` operations the function is total (the operation may always not apply), which the
    search relies on: an unknown operation placed after everything else must succeed. `hidden` maps
    a written value to the value the state holds (see `_Search`: values nobody observes merge).
    """
    known = op.status is Status.OK
    out = op.output
    bump = 1 if track_revisions else 0
    revision = out.revision if known and out is not None else None
    applied = out.applied if known and out is not None else None

    def change(new: str | None, state_revision: int) -> State | None:
        """A change to `new` after a state whose change revision is (at least) `state_revision`."""
        if revision is None:
            return (new, state_revision + bump, False)
        return (new, revision, new is not None) if revision > state_revision else None

    if op.kind is Kind.READ:
        assert out is not None, "unknown reads are dropped before the search"
        return _read(out.value, out.revision if track_revisions else None)

    written = None if op.value is None else hidden(op.value)
    if op.kind is Kind.WRITE:
        return lambda state: change(written, state[1])

    if op.kind is Kind.DELETE:

        def delete(state: State) -> State | None:
            if state[0] is None:
                return None if applied is True else state
            return None if applied is False else change(None, state[1])

        return delete

    matches = _compare(op)

    def cas(state: State) -> State | None:
        bound = matches(state)
        if bound is None:  # the compare cannot succeed on this state
            return None if applied is True else state
        if applied is False:
            # Not applied although it could match: legal only if it could also not match.
            return state if not state[2] and state[0] is not None and op.kind is Kind.CAS_REVISION else None
        return change(written, bound[1])

    return cas


def _read(value: str | None, revision: int | None) -> Transition:
    if value is None or revision is None:
        return lambda state: state if state[0] == value else None

    def read(state: State) -> State | None:
        if state[0] != value:
            return None
        if state[2]:
            return state if state[1] == revision else None
        return (value, revision, True) if revision >= state[1] else None  # binds the lower bound

    return read


def _compare(op: Operation) -> Transition:
    """The CAS's compare: the state it succeeds on (revision bound if it was inexact), or None."""
    expected = op.expected
    if op.kind is Kind.CAS:
        if expected is None:
            return lambda state: state if state[0] is None else None
        return lambda state: state if state[0] == expected else None
    assert isinstance(expected, int)

    def compare_revision(state: State) -> State | None:
        value, revision, exact = state
        if value is None:  # an absent key has mod_revision 0
            return state if expected == 0 else None
        if exact:
            return state if revision == expected else None
        return (value, expected, True) if expected >= revision else None

    return compare_revision
