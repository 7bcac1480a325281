"""Label selectors: Kubernetes' string syntax and the structured forms, matched against labels.

String syntax (kubectl's `-l`): comma-separated requirements, each one of
    key=value  key==value  key!=value  key in (a,b)  key notin (a,b)  key  !key  key>3  key<3
A selector with no requirements matches everything. Structured forms: `LabelSelector`
(matchLabels + matchExpressions) and node selector requirements (which add Gt/Lt).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cluster.api import names
from raykube.v1 import meta_pb2, pod_pb2


class SelectorError(ValueError):
    """A selector that does not parse or names an invalid key/value."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str  # In, NotIn, Exists, DoesNotExist, Gt, Lt
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == "In":
            return present and labels[self.key] in self.values
        if self.operator == "NotIn":
            return not present or labels[self.key] not in self.values
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if not present:
            return False
        try:
            have, bound = int(labels[self.key]), int(next(iter(self.values)))
        except ValueError:
            return False
        return have > bound if self.operator == "Gt" else have < bound

    def __str__(self) -> str:
        """In the string syntax, as kubectl shows selectors."""
        values = ",".join(sorted(self.values))
        match self.operator:
            case "In" if len(self.values) == 1:
                return f"{self.key}={values}"
            case "In":
                return f"{self.key} in ({values})"
            case "NotIn":
                return f"{self.key} notin ({values})"
            case "Exists":
                return self.key
            case "DoesNotExist":
                return f"!{self.key}"
        return f"{self.key}{'>' if self.operator == 'Gt' else '<'}{values}"


@dataclass(frozen=True)
class Selector:
    """All requirements must match (logical AND)."""

    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(r.matches(labels) for r in self.requirements)

    def empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


EVERYTHING = Selector()
_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"}
_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|>|<|[^\s=!(),<>]+)")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            if text[pos:].strip():
                raise SelectorError(f"unable to parse selector {text!r} at position {pos}")
            break
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def requirement(key: str, operator: str, values: Iterable[str] = ()) -> Requirement:
    """A validated requirement (key syntax, value syntax, value count for the operator)."""
    problems = names.qualified_name(key)
    if problems:
        raise SelectorError(f"invalid label key {key!r}: {'; '.join(problems)}")
    if operator not in _OPERATORS:
        raise SelectorError(f"{operator!r} is not a valid label selector operator")
    vals = frozenset(values)
    if operator in ("In", "NotIn") and not vals:
        raise SelectorError(f"for 'in', 'notin' operators, values set can't be empty (key {key!r})")
    if operator in ("Exists", "DoesNotExist") and vals:
        raise SelectorError(f"values set must be empty for exists and does not exist (key {key!r})")
    if operator in ("Gt", "Lt"):
        if len(vals) != 1 or not next(iter(vals)).lstrip("-").isdigit():
            raise SelectorError(
                f"for 'Gt', 'Lt' operators, exactly one integer value is required (key {key!r})"
            )
    else:
        for value in vals:
            if names.label_value(value):
                raise SelectorError(f"invalid label value {value!r} for key {key!r}")
    return Requirement(key, operator, vals)


def parse(text: str) -> Selector:
    """A Selector from kubectl's string syntax; raises SelectorError with what is wrong."""
    tokens = _tokens(text or "")
    reqs: list[Requirement] = []
    i = 0

    def expect_value() -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i] in ("(", ")", ",", "!", "=", "==", "!=", "<", ">"):
            raise SelectorError(f"unable to parse selector {text!r}: expected a value")
        i += 1
        return tokens[i - 1]

    while i < len(tokens):
        if tokens[i] == "!":
            i += 1
            reqs.append(requirement(expect_value(), "DoesNotExist"))
        else:
            key = expect_value()
            op = tokens[i] if i < len(tokens) else ","
            if op in ("=", "=="):
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                i += 1 if value else 0
                reqs.append(requirement(key, "In", [value]))
            elif op == "!=":
                i += 1
                value = tokens[i] if i < len(tokens) and tokens[i] != "," else ""
                i += 1 if value else 0
                reqs.append(requirement(key, "NotIn", [value]))
            elif op in (">", "<"):
                i += 1
                reqs.append(requirement(key, "Gt" if op == ">" else "Lt", [expect_value()]))
            elif op in ("in", "notin"):
                i += 1
                if i >= len(tokens) or tokens[i] != "(":
                    raise SelectorError(f"unable to parse selector {text!r}: expected '(' after {op!r}")
                i += 1
                # Comma-separated, an empty entry being the empty value, as Kubernetes reads
                # them: "()" is {""} (how `key!=` prints back), "(a,)" is {"a", ""}.
                values: list[str] = [""]
                while i < len(tokens) and tokens[i] != ")":
                    if tokens[i] == ",":
                        values.append("")
                    elif values[-1]:
                        raise SelectorError(
                            f"unable to parse selector {text!r}: expected ',' or ')' after {values[-1]!r}"
                        )
                    else:
                        values[-1] = tokens[i]
                    i += 1
                if i >= len(tokens):
                    raise SelectorError(f"unable to parse selector {text!r}: missing ')'")
                i += 1
                reqs.append(requirement(key, "In" if op == "in" else "NotIn", values))
            elif op == ",":
                reqs.append(requirement(key, "Exists"))
            else:
                raise SelectorError(f"unable to parse selector {text!r}: unexpected {op!r}")
        if i < len(tokens):
            if tokens[i] != ",":
                raise SelectorError(f"unable to parse selector {text!r}: expected ',' before {tokens[i]!r}")
            i += 1
    return Selector(tuple(reqs))


def from_label_selector(selector: meta_pb2.LabelSelector) -> Selector:
    """A Selector from the structured form (matchLabels AND matchExpressions)."""
    reqs = [requirement(k, "In", [v]) for k, v in sorted(selector.match_labels.items())]
    for expr in selector.match_expressions:
        if expr.operator in ("Gt", "Lt"):
            raise SelectorError(f"{expr.operator!r} is not a valid pod selector operator")
        reqs.append(requirement(expr.key, expr.operator, expr.values))
    return Selector(tuple(reqs))


def from_node_selector_term(term: pod_pb2.NodeSelectorTerm) -> Selector:
    """The matchExpressions of a node selector term (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    return Selector(tuple(requirement(e.key, e.operator, e.values) for e in term.match_expressions))


def from_map(labels: Mapping[str, str]) -> Selector:
    """Equality on every pair, as a nodeSelector means."""
    return Selector(tuple(Requirement(k, "In", frozenset([v])) for k, v in sorted(labels.items())))
