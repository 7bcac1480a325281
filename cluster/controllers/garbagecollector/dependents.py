"""Who names whom as owner: the tracked objects that reference each owner uid.

Kubernetes' garbage collector keeps this graph (uidToNode) for the same reason: an object's
deletion must find its dependents, and looking for them in every cached object makes each
deletion cost the size of the cache (2,000 pods deleted at once kept the controller manager busy
for seconds). Kept by the collector's informer handlers: every added, changed or deleted object
updates the owners it names.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

Ref = tuple[str, str, str]  # (resource name, namespace, name) of a dependent


class Dependents:
    def __init__(self) -> None:
        self._by_owner: defaultdict[str, set[Ref]] = defaultdict(set)

    def changed(self, resource: str, old: Any | None, new: Any | None) -> None:
        """`old` became `new` (None: absent before, or gone now)."""
        before, after = _owners(old), _owners(new)
        if before == after:
            return
        obj = new if new is not None else old
        assert obj is not None  # both None: no owners before or after, returned above
        ref = (resource, obj.metadata.namespace, obj.metadata.name)
        for uid in before - after:
            refs = self._by_owner[uid]
            refs.discard(ref)
            if not refs:
                del self._by_owner[uid]
        for uid in after - before:
            self._by_owner[uid].add(ref)

    def of(self, uid: str) -> list[Ref]:
        """The dependents of the owner with `uid`, in a stable order."""
        return sorted(self._by_owner.get(uid, ()))


def _owners(obj: Any | None) -> frozenset[str]:
    return frozenset(ref.uid for ref in obj.metadata.owner_references) if obj is not None else frozenset()
