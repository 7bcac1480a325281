"""The API commands of the CLI (apply, get, describe, delete, logs, wait, whoami), one coroutine each.

Each takes an ApiClient, the parsed arguments and the output stream, and returns the exit code;
errors from the server propagate as ApiError and are printed by main.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from cluster.api import codec, manifest, resources, wellknown
from cluster.api.resources import T
from cluster.cli import describe, jsonpath, printers
from cluster.client.api import ApiClient
from cluster.errors import AlreadyExists, BadRequest, Gone, NotFound, Timeout
from raykube.v1 import service_pb2

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def read_manifests(source: str) -> list[resources.ApiObject]:
    """Objects from a file, a directory of manifests, or '-' for stdin; decoding errors raise first."""
    if source == "-":
        return manifest.load(sys.stdin.read())  # type: ignore[return-value]
    path = Path(source)
    if not path.exists():
        raise BadRequest(f'the path "{source}" does not exist')
    files = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES) if path.is_dir() else [path]
    objects: list[resources.ApiObject] = []
    for file in files:
        objects += manifest.load(file.read_text())  # type: ignore[arg-type]
    return objects


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


async def apply(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    objects = read_manifests(args.filename)
    for obj in objects:
        if resources.of(obj).namespaced and not obj.metadata.namespace:
            obj.metadata.namespace = args.namespace
        obj.metadata.annotations[LAST_APPLIED] = json.dumps(codec.encode(obj), sort_keys=True)
    for obj in objects:  # server-side validation of everything before anything is stored
        with contextlib.suppress(AlreadyExists):
            await client.create(obj, dry_run=True)
    for obj in objects:
        name = printers.ref(resources.of(obj), obj.metadata.name)
        try:
            await client.create(obj)
            print(f"{name} created", file=out)
        except AlreadyExists:
            print(f"{name} {await _reapply(client, obj)}", file=out)
    return 0


def _merged(
    current: Mapping[str, str], applied: Mapping[str, str], before: Mapping[str, str]
) -> dict[str, str]:
    """kubectl's three-way rule for labels and annotations: what the manifest says wins, what the
    previous manifest said and this one does not goes, what someone else set stays."""
    kept = {k: v for k, v in current.items() if k not in before or k in applied}
    return {**kept, **applied}


async def _reapply(client: ApiClient, obj: Any) -> str:
    """Update an existing object to the manifest; 'configured', or 'unchanged' if nothing changed.

    The manifest's fields replace the object's (the status and system metadata aside); labels and
    annotations merge three ways against the manifest applied before (kept in LAST_APPLIED), so
    what controllers set (a Deployment's revision) survives a re-apply."""
    resource = resources.of(obj)
    current: Any = await client.get(resource, obj.metadata.namespace, obj.metadata.name)
    previous = json.loads(current.metadata.annotations.get(LAST_APPLIED, "{}")).get("metadata", {})
    desired = type(current)()
    desired.CopyFrom(obj)
    desired.metadata.CopyFrom(current.metadata)
    if resource.has_status:
        desired.status.CopyFrom(current.status)
    for meta_field in ("labels", "annotations"):
        merged = _merged(getattr(current.metadata, meta_field), getattr(obj.metadata, meta_field),
                         previous.get(meta_field, {}))  # fmt: skip
        getattr(desired.metadata, meta_field).clear()
        getattr(desired.metadata, meta_field).update(merged)
    if resource is resources.PODS and not obj.spec.node_name:
        desired.spec.node_name = current.spec.node_name  # set by the scheduler, not by the manifest
    updated = await client.update(desired)
    return (
        "unchanged"
        if updated.metadata.resource_version == current.metadata.resource_version
        else "configured"
    )


async def get(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    kinds = [resources.by_name(kind) for kind in args.resource.split(",") if kind]
    if len(kinds) > 1 and (args.name or args.watch):
        raise BadRequest("a name or --watch needs one resource type, not a list")
    now = time.time()
    if args.name:
        obj = await client.get(kinds[0], args.namespace, args.name)
        print(printers.render(kinds[0], [obj], args.output, now, single=True), file=out)
        return 0
    shown = 0
    for resource in kinds:
        namespace = "" if args.all_namespaces or not resource.namespaced else args.namespace
        items, version = await client.list(
            resource, namespace, label_selector=args.selector, field_selector=args.field_selector
        )
        items.sort(key=lambda o: (o.metadata.namespace, o.metadata.name))
        text = printers.render(resource, items, args.output, now, namespace_column=args.all_namespaces,
                               kind_in_name=len(kinds) > 1)  # fmt: skip
        if text:
            print(("\n" if shown else "") + text, file=out)
            shown += 1
    if not shown and args.output in ("", "wide") and not args.watch:
        where = f" in {args.namespace} namespace" if not args.all_namespaces and kinds[0].namespaced else ""
        print(f"No resources found{where}.", file=sys.stderr)
    if args.watch:
        async for _kind, obj in client.watch(
            resource,
            namespace,
            resource_version=version,
            label_selector=args.selector,
            field_selector=args.field_selector,
        ):
            rows = printers.render(resource, [obj], args.output or "", time.time(), single=True)
            if args.output in ("", "wide"):
                rows = rows.splitlines()[-1]  # the row without the header
            print(rows, file=out, flush=True)
    return 0


async def _owned(client: ApiClient, resource: resources.Resource[T], owner: Any) -> list[T]:
    """The objects of `resource` that `owner` controls (in its namespace)."""
    items, _ = await client.list(resource, owner.metadata.namespace)
    uid = owner.metadata.uid
    return [o for o in items if any(r.controller and r.uid == uid for r in o.metadata.owner_references)]


async def describe_(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    resource = resources.by_name(args.resource)
    namespace = args.namespace if resource.namespaced else ""
    obj: Any = await client.get(resource, namespace, args.name)
    if resource is resources.PODS:
        text = describe.describe_pod(obj)
    elif resource is resources.NODES:
        text = describe.describe_node(obj)
    elif resource is resources.NAMESPACES:
        text = describe.describe_namespace(obj)
    elif resource is resources.DEPLOYMENTS:
        text = describe.describe_deployment(obj, await _owned(client, resources.REPLICASETS, obj))
    elif resource is resources.REPLICASETS:
        text = describe.describe_replica_set(obj, await _owned(client, resources.PODS, obj))
    elif resource is resources.SERVICES:
        try:
            endpoints: Any = await client.get(resources.ENDPOINTS, namespace, args.name)
        except NotFound:
            endpoints = None
        text = describe.describe_service(obj, endpoints)
    else:
        hint = f"try `raykube get {resource.name} {args.name} -o yaml`"
        raise BadRequest(f"describe is not supported for {resource.name}; {hint}")
    events, _ = await client.list(resources.EVENTS, namespace or wellknown.NAMESPACE_DEFAULT,
                                  field_selector=f"involvedObject.uid={obj.metadata.uid}")  # fmt: skip
    print(f"{text}\n{describe.events_section(events, time.time())}", file=out)
    return 0


async def _watch_until(
    client: ApiClient,
    resource: resources.Resource,
    namespace: str,
    name: str,
    done: Callable[[Any | None], bool],
    timeout: float,
    what: str,
) -> None:
    """Return once `done(object)` holds for the named object (None: it does not exist): one list,
    then a watch on that name from the list's resourceVersion, listing again only after Gone."""
    namespace = namespace if resource.namespaced else ""
    by_name = f"metadata.name={name}"

    async def follow() -> None:
        while True:
            items, version = await client.list(resource, namespace, field_selector=by_name)
            if done(items[0] if items else None):
                return
            try:
                async for kind, obj in client.watch(
                    resource, namespace, resource_version=version, field_selector=by_name
                ):
                    if done(None if kind == "DELETED" else obj):
                        return
            except Gone:
                continue  # the watch fell behind compaction: list again

    try:
        await asyncio.wait_for(follow(), timeout)
    except TimeoutError:
        raise Timeout(f"timed out waiting for {what}") from None


async def _wait_gone(
    client: ApiClient, resource: resources.Resource, namespace: str, name: str, timeout: float
) -> None:
    await _watch_until(
        client, resource, namespace, name, lambda obj: obj is None, timeout,
        f'{resource.singular} "{name}" to be deleted',
    )  # fmt: skip


def delete_grace(grace_period: int | None, *, now: bool, force: bool) -> int | None:
    """kubectl's rules: --now is a grace period of 1; 0 means immediate removal and needs --force
    (otherwise it becomes 1, like --now); negative or unset means the object's own."""
    if now:
        return 1
    if grace_period is None or grace_period < 0:
        return None
    if grace_period == 0 and not force:
        return 1
    return grace_period


async def delete(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    if args.filename:
        targets = [
            (resources.of(o), o.metadata.namespace or args.namespace, o.metadata.name)
            for o in read_manifests(args.filename)
        ]
    elif args.resource and args.names:
        resource = resources.by_name(args.resource)
        targets = [(resource, args.namespace, name) for name in args.names]
    else:
        raise BadRequest("you must provide a resource and names, or -f FILENAME")
    grace = delete_grace(args.grace_period, now=args.now, force=args.force)
    policy = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}[args.cascade]
    terminating = []
    for resource, namespace, name in targets:  # delete everything first, then wait for all (as kubectl does)
        namespace = namespace if resource.namespaced else ""
        obj, gone = await client.delete(
            resource, namespace, name, grace_period_seconds=grace, propagation_policy=policy
        )
        print(
            f'{resource.singular}{"." + resource.group if resource.group else ""} "{name}" deleted',
            file=out,
            flush=True,
        )
        if not gone:
            terminating.append((resource, namespace, name, obj.metadata.deletion_grace_period_seconds))
    if args.wait:
        await asyncio.gather(*(_wait_gone(client, r, ns, n, args.timeout or seconds + 60)
                               for r, ns, n, seconds in terminating))  # fmt: skip
    return 0


async def logs(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    async for chunk in client.logs(
        args.namespace,
        args.pod,
        container=args.container or "",
        follow=args.follow,
        tail_lines=args.tail or 0,
        previous=args.previous,
    ):
        out.write(chunk.decode(errors="replace"))
        out.flush()
    return 0


def _condition(condition: str) -> Callable[[Any], bool]:
    """`--for` as a test of an object: condition=Type[=Status] or jsonpath={path}=value."""
    kind, _, spec = condition.partition("=")
    if kind == "condition":
        wanted, _, status = spec.partition("=")
        wanted, status = wanted.lower(), (status or "true").lower()
        return lambda obj: any(
            c.type.lower() == wanted and c.status.lower() == status for c in obj.status.conditions
        )
    if kind == "jsonpath":
        path, _, value = spec.rpartition("=")
        path = path.strip("'\"")
        return lambda obj: jsonpath.render(path, codec.encode(obj)) == value
    raise BadRequest(
        f"unrecognized condition: {condition!r} (use condition=Ready, jsonpath={{...}}=value or delete)"
    )


async def wait(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    kind, _, name = args.target.partition("/")
    resource = resources.by_name(kind)
    if not name:
        raise BadRequest(f"expected RESOURCE/NAME, got {args.target!r}")
    if args.for_ == "delete":
        await _wait_gone(client, resource, args.namespace, name, args.timeout)
    else:
        test = _condition(args.for_)
        await _watch_until(
            client, resource, args.namespace, name, lambda obj: obj is not None and test(obj), args.timeout,
            f"the condition on {resource.name}/{name}",
        )  # fmt: skip
    print(f"{resource.singular}/{name} condition met", file=out)
    return 0


async def whoami(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    me = await client.whoami()
    print(
        printers.table(
            [["ATTRIBUTE", "VALUE"], ["Username", me.username], ["Groups", f"[{' '.join(me.groups)}]"]]
        ),
        file=out,
    )
    return 0


async def expose(client: ApiClient, args: argparse.Namespace, out: IO[str]) -> int:
    """A Service for a Deployment's (or ReplicaSet's) pods, selecting what its selector selects."""
    kind, _, name = args.target.partition("/")
    name = name or args.name
    resource = resources.by_name(kind)
    if resource not in (resources.DEPLOYMENTS, resources.REPLICASETS) or not name:
        raise BadRequest("expose needs deployment/NAME or replicaset/NAME")
    workload: Any = await client.get(resource, args.namespace, name)
    selector = workload.spec.selector
    if selector.match_expressions or not selector.match_labels:
        raise BadRequest(
            f"couldn't retrieve selectors via --selector flag or introspection: {name} selects by expressions"
        )
    service = service_pb2.Service()
    service.metadata.name, service.metadata.namespace = args.service_name or name, args.namespace
    service.metadata.labels.update(workload.metadata.labels)
    service.spec.selector.update(selector.match_labels)
    service.spec.type = args.type
    service.spec.ports.add(
        port=args.port, target_port=str(args.target_port or args.port), protocol=args.protocol
    )
    await client.create(service)
    print(f"service/{service.metadata.name} exposed", file=out)
    return 0
