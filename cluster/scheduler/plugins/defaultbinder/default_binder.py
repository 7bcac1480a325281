"""DefaultBinder: bind through the API, on condition the pod is still the one we decided for.

The uid and resourceVersion we read are preconditions, so the API server answers Conflict when
the pod was replaced, changed, or bound meanwhile; any API error comes back as an ERROR status
(the scheduler forgets the assumption and retries the pod with backoff). Any other exception is a
bug and propagates.
"""

from __future__ import annotations

from cluster.errors import ApiError
from cluster.scheduler.framework import SUCCESS, CycleState, Handle, PluginArgs, PodInfo, Status, error

NAME = "DefaultBinder"


class DefaultBinder:
    name = NAME

    def __init__(self, args: PluginArgs, handle: Handle):
        if args:
            raise ValueError(f"{NAME} takes no args, got: {', '.join(sorted(args))}")
        self._binder = handle.binder

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        meta = pod.pod.metadata
        try:
            await self._binder.bind(
                meta.namespace, meta.name, node_name, uid=meta.uid, resource_version=meta.resource_version
            )
        except ApiError as err:
            return error(f"binding {meta.namespace}/{meta.name} to {node_name}: {type(err).__name__}: {err}")
        return SUCCESS
