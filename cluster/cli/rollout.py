"""`raykube scale` and `raykube rollout status|history|undo|restart|pause|resume`, as kubectl does them.

Every change is a read-modify-write that starts over on a Conflict (ApiClient.modify); a rollback
is client-side, as in kubectl since apps/v1: the chosen revision's ReplicaSet template becomes the
Deployment's template again, and the controller makes that ReplicaSet the new one.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import IO, Any

from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import conditions, resources, wellknown
from cluster.cli.printers import ref, table
from cluster.client.api import ApiClient
from cluster.controllers.deployment.rollout import revision_of, without_hash
from cluster.errors import BadRequest, Gone, Timeout
from raykube.v1 import apps_pb2

SCALABLE = (resources.DEPLOYMENTS, resources.REPLICASETS)


def target(
    args: argparse.Namespace, allowed: tuple[resources.Resource[Any], ...]
) -> tuple[resources.Resource[Any], str]:
    """RESOURCE/NAME, or RESOURCE NAME, as kubectl accepts them."""
    kind, _, name = args.target.partition("/")
    name = name or args.name
    if not name:
        raise BadRequest(f"expected RESOURCE/NAME, got {args.target!r}")
    resource = resources.by_name(kind)
    if resource not in allowed:
        raise BadRequest(
            f"{args.command} is not supported for {resource.name} (only {', '.join(r.name for r in allowed)})"
        )
    return resource, name


async def scale(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    resource, name = target(args, SCALABLE)
    if args.replicas < 0:
        raise BadRequest(f"--replicas must be 0 or more, not {args.replicas}")

    def change(obj: Any) -> None:
        obj.spec.replicas = args.replicas

    await client.modify(resource, args.namespace, name, change)
    print(f"{ref(resource, name)} scaled", file=out)
    return 0


async def _owned_sets(client: ApiClient, d: apps_pb2.Deployment) -> list[apps_pb2.ReplicaSet]:
    items, _ = await client.list(resources.REPLICASETS, d.metadata.namespace)
    return sorted(
        (rs for rs in items if isinstance(rs, apps_pb2.ReplicaSet)
         and any(o.controller and o.uid == d.metadata.uid for o in rs.metadata.owner_references)),
        key=revision_of,
    )  # fmt: skip


def rollout_message(d: apps_pb2.Deployment) -> tuple[str, bool]:
    """What `rollout status` says about `d`, and whether the rollout is done (kubectl's wording)."""
    name, spec, status = d.metadata.name, d.spec, d.status
    if d.metadata.generation > status.observed_generation:
        return "Waiting for deployment spec update to be observed...", False
    progressing = conditions.find(status.conditions, "Progressing")
    if progressing is not None and progressing.reason == "ProgressDeadlineExceeded":
        raise Timeout(f'deployment "{name}" exceeded its progress deadline')
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if status.updated_replicas < spec.replicas:
        return (
            f"{waiting}{status.updated_replicas} out of {spec.replicas} new replicas have been updated...",
            False,
        )
    if status.replicas > status.updated_replicas:
        return (
            f"{waiting}{status.replicas - status.updated_replicas} old replicas are pending termination...",
            False,
        )
    if status.available_replicas < status.updated_replicas:
        available = f"{status.available_replicas} of {status.updated_replicas}"
        return f"{waiting}{available} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


async def _status(client: ApiClient, args: argparse.Namespace, name: str, out: IO[str]) -> None:
    async def follow() -> None:
        said = ""
        while True:
            items, version = await client.list(
                resources.DEPLOYMENTS, args.namespace, field_selector=f"metadata.name={name}"
            )
            if not items:
                raise BadRequest(f'deployments.apps "{name}" not found')
            stream = client.watch(resources.DEPLOYMENTS, args.namespace, resource_version=version,
                                  field_selector=f"metadata.name={name}")  # fmt: skip
            current: Any = items[0]
            try:
                while True:
                    message, done = rollout_message(current)
                    if message != said:
                        print(message, file=out, flush=True)
                        said = message
                    if done or not args.watch:
                        return
                    _, current = await anext(stream)
            except Gone:
                continue

    try:
        await asyncio.wait_for(follow(), args.timeout or None)
    except TimeoutError:
        raise Timeout("timed out waiting for the condition") from None


async def rollout(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    resource, name = target(args, (resources.DEPLOYMENTS,))
    shown = ref(resource, name)
    if args.action == "status":
        await _status(client, args, name, out)
        return 0
    if args.action == "history":
        d: Any = await client.get(resource, args.namespace, name)
        rows = [["REVISION", "CHANGE-CAUSE"]]
        rows += [[str(revision_of(rs)), rs.metadata.annotations.get(wellknown.CHANGE_CAUSE, "<none>")]
                 for rs in await _owned_sets(client, d)]  # fmt: skip
        print(f"{shown}\n{table(rows)}", file=out)
        return 0
    if args.action in ("pause", "resume"):
        paused = args.action == "pause"
        current: Any = await client.get(resource, args.namespace, name)
        if current.spec.paused == paused:
            raise BadRequest(
                f'{resource.name}.{resource.group} "{name}" is already {"paused" if paused else "resumed"}'
            )
        await client.modify(resource, args.namespace, name, lambda obj: setattr(obj.spec, "paused", paused))
        print(f"{shown} {'paused' if paused else 'resumed'}", file=out)
        return 0
    if args.action == "restart":
        now = Timestamp(seconds=int(time.time())).ToJsonString()

        def restart(obj: Any) -> None:
            obj.spec.template.metadata.annotations[wellknown.RESTARTED_AT] = now

        await client.modify(resource, args.namespace, name, restart)
        print(f"{shown} restarted", file=out)
        return 0
    return await _undo(client, args, resource, name, out)


async def _undo(client: ApiClient, args: argparse.Namespace, resource: resources.Resource[Any], name: str,
                out: IO[str]) -> int:  # fmt: skip
    d: Any = await client.get(resource, args.namespace, name)
    sets = await _owned_sets(client, d)
    current = int(d.metadata.annotations.get(wellknown.REVISION, "0") or 0)
    if args.to_revision:
        chosen = next((rs for rs in sets if revision_of(rs) == args.to_revision), None)
        if chosen is None:
            raise BadRequest(f"unable to find the specified revision {args.to_revision}")
    else:
        older = [rs for rs in sets if revision_of(rs) < current]
        if not older:
            raise BadRequest("no rollout history found for deployment " + repr(name))
        chosen = older[-1]
    template = without_hash(chosen.spec.template)
    if template == d.spec.template:
        why = f"current template already matches revision {revision_of(chosen)}"
        print(f"{ref(resource, name)} skipped rollback ({why})", file=out)
        return 0
    await client.modify(resource, args.namespace, name, lambda obj: obj.spec.template.CopyFrom(template))
    print(f"{ref(resource, name)} rolled back", file=out)
    return 0
