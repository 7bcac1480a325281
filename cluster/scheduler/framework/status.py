"""The one result type of every plugin call: a code from a closed set, plus human reasons.

"This node does not fit" is an ordinary answer (UNSCHEDULABLE), never an exception; exceptions
are left for bugs. The codes, as kube-scheduler defines them:

    SUCCESS                          the plugin is content
    UNSCHEDULABLE                    does not fit now; may fit if other pods go away
    UNSCHEDULABLE_AND_UNRESOLVABLE   does not fit, and removing pods would not help (taints, selectors)
    ERROR                            something went wrong; the pod is retried with backoff
    SKIP                             pre_filter/pre_score: "nothing for me to do for this pod", so the
                                     runtime skips this plugin's per-node filter/score this cycle;
                                     bind: "not mine to bind", so the next binder is asked

Reasons are the exact strings kube-scheduler prints ("Insufficient cpu"); the scheduler counts
them per node into the "0/3 nodes are available: ..." message.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Code(enum.Enum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    ERROR = "Error"
    SKIP = "Skip"


_REJECTIONS = (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


@dataclass(frozen=True, slots=True)
class Status:
    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""  # who said so; set by the runtime

    @property
    def ok(self) -> bool:
        return self.code is Code.SUCCESS

    @property
    def rejected(self) -> bool:
        """The pod does not fit (as opposed to success, skip or error)."""
        return self.code in _REJECTIONS

    def message(self) -> str:
        return ", ".join(self.reasons)

    def by(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)


SUCCESS = Status(Code.SUCCESS)
SKIP = Status(Code.SKIP)


def unschedulable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE, reasons)


def unresolvable(*reasons: str) -> Status:
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)


def error(message: str) -> Status:
    return Status(Code.ERROR, (message,))


def merge(statuses: Iterable[Status]) -> Status:
    """One status for several plugins' answers: the worst code wins, all reasons are kept.

    ERROR beats UNSCHEDULABLE_AND_UNRESOLVABLE beats UNSCHEDULABLE beats SUCCESS; SKIP counts as
    SUCCESS. The plugin is kept only when a single plugin's answer decided the code.
    """
    rank = {
        Code.ERROR: 3,
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE: 2,
        Code.UNSCHEDULABLE: 1,
        Code.SUCCESS: 0,
        Code.SKIP: 0,
    }
    worst: Status = SUCCESS
    reasons: list[str] = []
    deciders: set[str] = set()
    for status in statuses:
        if rank[status.code] == 0:
            continue
        reasons.extend(status.reasons)
        if rank[status.code] > rank[worst.code]:
            worst, deciders = status, {status.plugin}
        elif status.code is worst.code:
            deciders.add(status.plugin)
    if worst.ok:
        return SUCCESS
    return Status(worst.code, tuple(reasons), deciders.pop() if len(deciders) == 1 else "")
