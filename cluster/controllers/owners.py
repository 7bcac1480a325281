"""Owner references: who controls an object, and claiming (adopting and releasing) dependents.

A controller (a ReplicaSet for its pods, a Deployment for its ReplicaSets) owns the objects its
selector matches, marked by an ownerReference with `controller: true` (Kubernetes'
ControllerRefManager): it adopts matching objects that have no controller, and releases the ones
it owns that no longer match (their labels were changed). A controller being deleted adopts
nothing. Adoption and release are ordinary updates conditioned on the resourceVersion read, so
two controllers never both adopt one object.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from cluster.api import labels, resources
from cluster.api.resources import ApiObject, T
from cluster.client.api import ApiClient
from cluster.errors import Conflict, NotFound
from raykube.v1 import meta_pb2

log = logging.getLogger(__name__)


def controller_of(obj: ApiObject) -> meta_pb2.OwnerReference | None:
    """The ownerReference of `obj` that is its controller, if any."""
    return next((ref for ref in obj.metadata.owner_references if ref.controller), None)


def controlled_by(obj: ApiObject, owner: ApiObject) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.uid == owner.metadata.uid


def controller_reference(owner: ApiObject) -> meta_pb2.OwnerReference:
    """The ownerReference a controller puts on what it creates or adopts."""
    resource = resources.of(owner)
    return meta_pb2.OwnerReference(
        api_version=resource.api_version,
        kind=resource.kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


async def claim(
    client: ApiClient, owner: ApiObject, selector: labels.Selector, candidates: Sequence[T]
) -> list[T]:
    """The candidates `owner` controls after adopting and releasing what its selector says."""
    owned: list[T] = []
    deleting = owner.metadata.HasField("deletion_timestamp")
    for obj in candidates:
        ref = controller_of(obj)
        matches = selector.matches(obj.metadata.labels)
        if ref is not None:
            if ref.uid != owner.metadata.uid:
                continue  # someone else's
            if matches or deleting:
                owned.append(obj)
            else:
                await _change_owner(client, obj, owner, adopt=False)
        elif matches and not deleting and not obj.metadata.HasField("deletion_timestamp"):
            adopted = await _change_owner(client, obj, owner, adopt=True)
            if adopted is not None:
                owned.append(adopted)
    return owned


async def _change_owner(client: ApiClient, obj: T, owner: ApiObject, *, adopt: bool) -> T | None:
    """Adopt (add the controller reference) or release (remove it); None if the object moved on."""
    changed = type(obj)()
    changed.CopyFrom(obj)
    refs = changed.metadata.owner_references
    if adopt:
        refs.append(controller_reference(owner))
    else:
        kept = [r for r in refs if r.uid != owner.metadata.uid]
        del refs[:]
        refs.extend(kept)
    try:
        updated = await client.update(changed)  # conditioned on the resourceVersion read
    except (Conflict, NotFound):
        return None  # it changed or went meanwhile; the next sync sees the newer version
    log.info("%s %s/%s %s %s", resources.of(owner).kind, owner.metadata.namespace, owner.metadata.name,
             "adopted" if adopt else "released", obj.metadata.name)  # fmt: skip
    return updated
