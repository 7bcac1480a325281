"""The generic storage flow behind every API verb (kube-apiserver's registry/generic store).

Objects are stored as binary protobuf at `/registry/<resource>/<namespace>/<name>`; their
resourceVersion is the key's mod revision and is never stored inside the value. Every write is a
transaction conditioned on what was read (create-if-absent, update/delete at the mod revision
read), so concurrent writers cannot lose each other's changes: the loser gets Conflict.

Reads of single objects and lists go to the store (consistent); watches are served from the
per-resource WatchCache. The registry also compacts the store periodically, keeping about
`compact_every` seconds of history for watchers to resume from.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from cluster.api import codec, conditions, limits, managedfields, names, resources, wellknown
from cluster.api import fields as field_selectors
from cluster.api import labels as label_selectors
from cluster.api.resources import ApiObject, Resource, T
from cluster.apiserver.allocation import ServiceNetwork
from cluster.apiserver.etcd import (
    ClaimTaken,
    Compacted,
    EtcdStorage,
    KeyExists,
    KeyValue,
    RevisionMismatch,
    StorageError,
    TTLLeases,
)
from cluster.apiserver.strategies import Strategies, Strategy
from cluster.apiserver.watchcache import WatchCache
from cluster.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    Unavailable,
    invalid,
    not_supported,
)
from cluster.supervision import run_forever
from raykube.v1 import meta_pb2, pod_pb2

log = logging.getLogger(__name__)
Clock = Callable[[], float]
R = TypeVar("R")


def _decoder(resource: Resource[T]) -> Callable[[bytes, int], T]:
    def decode(data: bytes, revision: int) -> T:
        obj = resource.decode(data)
        obj.metadata.resource_version = str(revision)
        return obj

    return decode


def _indexer(resource: Resource[T]) -> Callable[[T], str] | None:
    if not resource.indexed_field:
        return None
    return lambda obj: resource.field_set(obj)[resource.indexed_field]


def _copy(obj: T) -> T:
    copied = type(obj)()
    copied.CopyFrom(obj)
    return copied


def _encode(obj: T) -> bytes:
    """The object as stored; 413 if it is larger than the store keeps in one value."""
    stored = _copy(obj)
    stored.metadata.ClearField("resource_version")
    data: bytes = stored.SerializeToString(deterministic=True)
    limits.check_size(len(data), f'{resources.of(obj).kind} "{obj.metadata.name}"')
    return data


def _conflict(resource: Resource[Any], name: str, detail: str) -> Conflict:
    return Conflict(
        f'Operation cannot be fulfilled on {resource.name} "{name}": {detail}', kind=resource.kind, name=name
    )


_STALE = "the object has been modified; please apply your changes to the latest version and try again"


class Delete(enum.Enum):
    """What a guaranteed update's change returns to delete the object."""

    DELETE = enum.auto()


DELETE = Delete.DELETE


_POLICY_FINALIZERS = {"Orphan": wellknown.FINALIZER_ORPHAN, "Foreground": wellknown.FINALIZER_FOREGROUND}


def _keep_system_metadata(new: meta_pb2.ObjectMeta, old: meta_pb2.ObjectMeta) -> None:
    """What the system owns in an object's metadata: an update never takes these from the client."""
    new.uid, new.generation, new.generate_name = old.uid, old.generation, old.generate_name
    for stamp in ("creation_timestamp", "deletion_timestamp"):
        if old.HasField(stamp):
            getattr(new, stamp).CopyFrom(getattr(old, stamp))
        else:
            new.ClearField(stamp)
    if old.HasField("deletion_grace_period_seconds"):
        new.deletion_grace_period_seconds = old.deletion_grace_period_seconds
    else:
        new.ClearField("deletion_grace_period_seconds")
    if not new.managed_fields:  # a client that leaves them out keeps them, as in Kubernetes
        new.managed_fields.extend(old.managed_fields)


def _copy_field(target: Message, source: Message, field: str) -> None:
    """One message field from source to target, for fields only some kinds have (status)."""
    getattr(target, field).CopyFrom(getattr(source, field))


def _spec(obj: ApiObject) -> Message | None:
    """The desired state whose changes bump metadata.generation (None: a kind without a spec)."""
    return obj.spec if "spec" in obj.DESCRIPTOR.fields_by_name else None  # type: ignore[union-attr]


def _deletion_due(strategy: Strategy[T], obj: T) -> bool:
    meta = obj.metadata
    return (
        meta.HasField("deletion_timestamp") and meta.deletion_grace_period_seconds == 0
        and not strategy.finalizers(obj)
    )  # fmt: skip


_ALLOCATION_ATTEMPTS = 8


def _refuse_if_requested(
    resource: Resource[Any], obj: ApiObject, claims: dict[str, str], requested: dict[str, str], taken: str
) -> None:
    """A claim was taken: if the client asked for that value, refuse (422, naming the field)."""
    if taken in requested:
        field = requested[taken]
        value = taken.rsplit("/", 1)[-1]
        detail = (
            "provided IP is already allocated"
            if "clusterips" in taken
            else "provided port is already allocated"
        )
        raise Invalid.for_object(resource.kind, obj.metadata.name, [invalid(field, value, detail)])


def _check_type_meta(resource: Resource[Any], obj: ApiObject) -> None:
    """The apiVersion and kind an object carries, when it carries them, must be its resource's."""
    errors = []
    if obj.api_version and obj.api_version != resource.api_version:
        errors.append(not_supported("apiVersion", obj.api_version, [resource.api_version]))
    if obj.kind and obj.kind != resource.kind:
        errors.append(not_supported("kind", obj.kind, [resource.kind]))
    if errors:
        raise Invalid.for_object(resource.kind, obj.metadata.name, errors)


def _precondition_failure(
    resource: Resource[Any], name: str, obj: ApiObject, uid: str, resource_version: str
) -> Conflict | None:
    if uid and uid != obj.metadata.uid:
        return _conflict(
            resource,
            name,
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: {obj.metadata.uid}",
        )
    if resource_version and resource_version != obj.metadata.resource_version:
        return _conflict(resource, name, _STALE)
    return None


class Registry:
    """Create/get/list/update/delete/watch for every resource, over one etcd client."""

    def __init__(
        self,
        storage: EtcdStorage,
        *,
        clock: Clock = time.time,
        compact_every: float = 300.0,
        network: ServiceNetwork | None = None,
        watch_cache_size: int = 10_000,
    ):
        self._storage = storage
        self.network = network or ServiceNetwork()
        self._strategies = Strategies(self.network)
        self._ttl_leases = TTLLeases(storage)
        self._clock = clock
        self._compact_every = compact_every
        self.caches = {
            r.name: WatchCache(storage, r.prefix(), _decoder(r), index=_indexer(r), window=watch_cache_size)
            for r in resources.ALL
        }
        self._written: dict[str, int] = {}  # resource name -> revision of this server's last write of it

    async def run(self) -> None:
        """Feed the watch caches and compact the store, until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            for name, cache in self.caches.items():
                run_forever(tasks, f"watch cache {name}", cache.run())
            run_forever(tasks, "compaction", self._compact_loop())

    async def _compact_loop(self) -> None:
        """Compact to the revision seen one period ago (kube-apiserver's rule), leaving watchers a period."""
        previous = 0
        while True:
            await asyncio.sleep(self._compact_every)
            try:
                if previous:
                    await self._storage.compact(previous)
                previous = await self._storage.revision()
            except StorageError as err:
                log.warning("compaction skipped: %s", err)

    def now(self) -> Timestamp:
        return Timestamp(seconds=int(self._clock()))

    # -- reads -----------------------------------------------------------------------------

    async def _read(self, resource: Resource[T], namespace: str, name: str) -> tuple[T, KeyValue]:
        kv = await self._guard(self._storage.get(resource.key(namespace, name)))
        if kv is None:
            raise NotFound(f'{resource.name} "{name}" not found', kind=resource.kind, name=name)
        return _decoder(resource)(kv.value, kv.mod_revision), kv

    async def get(self, resource: Resource[T], namespace: str, name: str) -> T:
        return (await self._read(resource, namespace, name))[0]

    def _cache_if_current(self, resource: Resource[Any]) -> WatchCache | None:
        """The resource's watch cache if it holds at least this server's own writes, else None.

        What admission reads (kube-apiserver's plugins read informer caches, not the store): one
        store round trip fewer per request, and a client still sees its own earlier writes here."""
        cache = self.caches[resource.name]
        current = cache.ready.is_set() and cache.revision >= self._written.get(resource.name, 0)
        return cache if current else None

    async def cached_get(self, resource: Resource[T], namespace: str, name: str) -> T:
        """`get` from the watch cache (see `_cache_if_current`); the object is the cache's: read only."""
        cache = self._cache_if_current(resource)
        if cache is None:
            return await self.get(resource, namespace, name)
        found = cache.objects.get(resource.key(namespace, name))
        if found is None:
            raise NotFound(f'{resource.name} "{name}" not found', kind=resource.kind, name=name)
        return cast(T, found)

    async def cached_list(self, resource: Resource[T]) -> list[T]:
        """Every object of a cluster-scoped `resource`, from the watch cache when it is current
        (see `_cache_if_current`); the objects are the cache's: read only."""
        cache = self._cache_if_current(resource)
        if cache is None:
            return (await self.list_objects(resource, ""))[0]
        return list(cache.objects.values())

    def predicate(
        self, resource: Resource[T], namespace: str, label_selector: str, field_selector: str
    ) -> Callable[[T], bool]:
        """Whether an object is in (namespace, selectors); BadRequest for selectors that do not parse."""
        try:
            by_labels = label_selectors.parse(label_selector)
            by_fields = field_selectors.parse(field_selector, resource.selectable_fields)
        except (label_selectors.SelectorError, field_selectors.FieldSelectorError) as err:
            raise BadRequest(str(err)) from err

        def matches(obj: T) -> bool:
            if namespace and obj.metadata.namespace != namespace:
                return False
            return by_labels.matches(obj.metadata.labels) and (
                by_fields.empty() or by_fields.matches(resource.field_set(obj))
            )

        return matches

    async def list_objects(
        self, resource: Resource[T], namespace: str, label_selector: str = "", field_selector: str = ""
    ) -> tuple[list[T], str]:
        items, version, _ = await self.list_page(resource, namespace, label_selector, field_selector)
        return items, version

    async def list_page(
        self, resource: Resource[T], namespace: str, label_selector: str = "", field_selector: str = "",
        *, limit: int = 0, continue_token: str = "", resource_version: str = "",
    ) -> tuple[list[T], str, str]:  # fmt: skip
        """The matching objects (at most `limit`; 0: all), the resourceVersion they were read at, and
        a token to continue after them ("" at the end). A continued list reads at the revision of
        its first page, so the pages are one consistent snapshot (410 Gone once that is compacted);
        `resource_version` pins the first page to that revision (resourceVersionMatch=Exact)."""
        if limit < 0:
            raise BadRequest(f"limit must not be negative, got {limit}")
        matches = self.predicate(resource, namespace, label_selector, field_selector)
        prefix = resource.prefix(namespace)
        start, revision = _parse_continue(continue_token, prefix) if continue_token else ("", 0)
        if resource_version and not continue_token:
            revision = _parse_version(resource_version)
        decode = _decoder(resource)
        found: list[T] = []
        while True:
            try:
                page, revision, more = await self._guard(
                    self._storage.list_page(prefix, start=start, revision=revision, limit=limit)
                )
            except Compacted:
                expired = _CONTINUE_EXPIRED if continue_token else f"too old resource version: {revision}"
                raise Gone(expired) from None
            found += [obj for obj in (decode(kv.value, kv.mod_revision) for kv in page) if matches(obj)]
            if limit and len(found) >= limit:
                last = found[limit - 1].metadata
                rest = len(found) > limit or more
                token = (
                    _continue_token(revision, resource.key(last.namespace, last.name) + "\0") if rest else ""
                )
                return found[:limit], str(revision), token
            if not more or not page:
                return found, str(revision), ""
            start = page[-1].key + "\0"

    async def watch(
        self,
        resource: Resource[T],
        namespace: str,
        label_selector: str,
        field_selector: str,
        resource_version: str,
        bookmark_every: float | None,
    ) -> AsyncIterator[list[tuple[str, T | None, int]]]:
        """(type, object, revision) events in the lists they were ready in (WatchCache.watch)."""
        matches = self.predicate(resource, namespace, label_selector, field_selector)
        since = _parse_version(resource_version) if resource_version else None
        pinned = field_selectors.parse(field_selector, resource.selectable_fields).required_value(
            resource.indexed_field
        )
        cache = self.caches[resource.name]
        async for ready in cache.watch(since, matches, trigger=pinned, bookmark_every=bookmark_every):
            yield ready

    # -- writes ----------------------------------------------------------------------------

    def _admit(self, strategy: Strategy[T], obj: T, errors: list[FieldError]) -> None:
        if errors:
            raise Invalid.for_object(strategy.resource.kind, obj.metadata.name, errors)

    async def _check_namespace(self, resource: Resource[Any], namespace: str) -> None:
        """Objects go only into namespaces that exist and are not terminating (NamespaceLifecycle)."""
        if not resource.namespaced:
            return
        cached = self.caches[resources.NAMESPACES.name].objects.get(resources.NAMESPACES.key("", namespace))
        found = cached if cached is not None else await self._maybe_get(resources.NAMESPACES, "", namespace)
        if found is None:
            raise NotFound(f'namespaces "{namespace}" not found', kind="namespaces", name=namespace)
        if found.metadata.HasField("deletion_timestamp") and resource is not resources.EVENTS:
            raise Forbidden(
                f'{resource.name} "" is forbidden: unable to create new content in namespace {namespace} '
                "because it is being terminated"
            )

    async def _maybe_get(self, resource: Resource[T], namespace: str, name: str) -> T | None:
        try:
            return await self.get(resource, namespace, name)
        except NotFound:
            return None

    async def _lease(self, strategy: Strategy[Any]) -> int:
        """The store lease an object of this kind is written with (0: it does not expire)."""
        if not strategy.ttl_seconds:
            return 0
        return await self._guard(self._ttl_leases.lease_for(strategy.ttl_seconds))

    async def create(self, obj: T, *, dry_run: bool = False) -> T:
        resource: Resource[T] = resources.of(obj)
        strategy = self._strategies[resource]
        meta = obj.metadata
        if meta.resource_version:
            raise BadRequest("resourceVersion should not be set on objects to be created")
        _check_type_meta(resource, obj)
        if not resource.namespaced:
            meta.ClearField("namespace")
        if not meta.name and meta.generate_name:
            meta.name = meta.generate_name + secrets.token_hex(3)[:5]
        obj.api_version, obj.kind = resource.api_version, resource.kind
        now = self.now()
        meta.uid = str(uuid.uuid4())
        meta.creation_timestamp.CopyFrom(now)
        meta.generation = 1
        meta.ClearField("deletion_timestamp")
        meta.ClearField("deletion_grace_period_seconds")
        strategy.prepare_for_create(obj, now)
        strategy.default(obj)
        requested = strategy.claims(obj)  # values the client asked for: taken means refused, not retried
        strategy.allocate(obj, None)
        self._admit(strategy, obj, strategy.validate(obj))
        await self._check_namespace(resource, meta.namespace)
        if dry_run:
            return obj
        key = resource.key(meta.namespace, meta.name)
        for _ in range(_ALLOCATION_ATTEMPTS):
            claims = strategy.claims(obj)
            try:
                lease = await self._lease(strategy)
                revision = await self._guard(
                    self._storage.create(key, _encode(obj), lease, claims=list(claims))
                )
            except KeyExists:
                raise AlreadyExists(
                    f'{resource.name} "{meta.name}" already exists', kind=resource.kind, name=meta.name
                ) from None
            except ClaimTaken as taken:
                _refuse_if_requested(resource, obj, claims, requested, taken.key)
                directory = taken.key.rsplit("/", 1)[0] + "/"
                held, _ = await self._guard(self._storage.list_prefix(directory))
                strategy.reallocate(obj, claims[taken.key], {kv.key for kv in held})  # picked here: another
                continue
            meta.resource_version = str(revision)
            self._wrote(resource, revision)
            return obj
        raise Unavailable(f"could not allocate for {resource.kind} {meta.name}: the range is (nearly) full")

    async def _current(self, resource: Resource[T], namespace: str, name: str, fresh: bool) -> tuple[T, int]:
        """The object and its mod revision: the watch cache's copy, or (`fresh`) the store's."""
        cached = None if fresh else self.caches[resource.name].objects.get(resource.key(namespace, name))
        if cached is None:
            obj, kv = await self._read(resource, namespace, name)
            return obj, kv.mod_revision
        return _copy(cached), int(cached.metadata.resource_version)

    async def _guaranteed_update(
        self,
        resource: Resource[T],
        namespace: str,
        name: str,
        change: Callable[[T], T | Delete],
        *,
        uid: str = "",
        resource_version: str = "",
        dry_run: bool = False,
    ) -> tuple[T, bool]:
        """Read, check preconditions, `change`, write conditioned on what was read (kube-apiserver's
        GuaranteedUpdate). Returns (the object as written, whether it was deleted); `dry_run`: the
        same answer, as judged on the store's copy, with nothing written.

        The first read is the watch cache's copy, which saves a store round trip on most writes;
        the conditional write makes a stale copy harmless: it fails, and the retry reads the store.
        A precondition is judged only against the store's copy. `change` may modify the object it
        is given and returns the object to write (unchanged: nothing is written) or DELETE. An
        object whose deletion is due (deletionTimestamp set, no grace left, no finalizers) is
        deleted instead of written: that is how removing the last finalizer completes a deletion.
        """
        key = resource.key(namespace, name)
        strategy = self._strategies[resource]
        fresh = False
        while True:
            current, revision = await self._current(resource, namespace, name, fresh)
            stale = _precondition_failure(resource, name, current, uid, resource_version)
            if stale is not None:
                if fresh:
                    raise stale
                fresh = True
                continue
            if dry_run and not fresh:
                fresh = True  # judge a dry run on the store's copy: there is no write to catch staleness
                continue
            original = _copy(current)
            outcome = change(current)
            if outcome is not DELETE and _deletion_due(strategy, outcome):
                outcome = DELETE
            if dry_run:
                return (original, True) if outcome is DELETE else (outcome, False)
            held = strategy.claims(original)
            try:
                if outcome is DELETE:
                    revision = await self._guard(self._storage.delete(key, revision, releases=list(held)))
                    self._wrote(resource, revision)
                    original.metadata.resource_version = str(revision)
                    return original, True
                if outcome == original:
                    return original, False  # nothing changed: no write, the resourceVersion stays
                lease = await self._lease(strategy)
                wanted = strategy.claims(outcome)
                claims, releases = [c for c in wanted if c not in held], [c for c in held if c not in wanted]
                write = self._storage.update(key, _encode(outcome), revision, lease, claims, releases)
                revision = await self._guard(write)
                self._wrote(resource, revision)
            except RevisionMismatch:
                if fresh and resource_version:
                    raise _conflict(resource, name, _STALE) from None
                fresh = True  # another writer, or a stale cached copy: read the store and try again
                continue
            outcome.metadata.resource_version = str(revision)
            return outcome, False

    async def update(
        self, obj: T, *, status: bool = False, field_manager: str = "", dry_run: bool = False
    ) -> T:
        """Replace an existing object (or, with `status`, only its status).

        A resourceVersion in the object is a precondition (Conflict when stale); without one the
        update applies to whatever is current, retrying on races (last writer wins). On an object
        with managed fields (server-side apply), `field_manager` becomes the owner of what it changed.
        """
        resource: Resource[T] = resources.of(obj)
        strategy = self._strategies[resource]
        _check_type_meta(resource, obj)
        meta = obj.metadata
        if not resource.namespaced:
            meta.ClearField("namespace")
        requested = strategy.claims(obj)

        def change(old: T) -> T:
            return self._track(self._merge(strategy, obj, old, status=status), old, field_manager)

        for _ in range(_ALLOCATION_ATTEMPTS):
            try:
                written, _ = await self._guaranteed_update(
                    resource,
                    meta.namespace,
                    meta.name,
                    change,
                    uid=meta.uid,
                    resource_version=meta.resource_version,
                    dry_run=dry_run,
                )
            except ClaimTaken as taken:  # a value picked by `change` was taken meanwhile: it picks again
                _refuse_if_requested(resource, obj, strategy.claims(obj), requested, taken.key)
                continue
            return written
        raise Unavailable(f"could not allocate for {resource.kind} {meta.name}: the range is (nearly) full")

    def _merge(self, strategy: Strategy[T], obj: T, old: T, *, status: bool) -> T:
        """The object to store: the client's changes, on top of what the client may not change
        (system metadata always; the status, unless this is a status update, which changes only it)."""
        resource = strategy.resource
        if status:
            if not resource.has_status:
                raise NotFound(f"the server could not find the requested resource ({resource.name}/status)")
            new = _copy(old)
            _copy_field(new, obj, "status")
            self._admit(strategy, new, strategy.validate_status(new))
            return new
        new = _copy(obj)
        new.api_version, new.kind = old.api_version, old.kind
        _keep_system_metadata(new.metadata, old.metadata)
        if resource.has_status:
            _copy_field(new, old, "status")
        strategy.keep_admitted(new, old)
        strategy.default(new)
        strategy.allocate(new, old)
        if _spec(new) != _spec(old):
            new.metadata.generation = old.metadata.generation + 1
        self._admit(strategy, new, strategy.validate_update(new, old))
        return new

    def _track(self, new: T, old: T, manager: str) -> T:
        """Make `manager` the owner of what it changed, on objects whose fields have owners (unless
        the write set managedFields itself, as an apply does)."""
        kept = list(new.metadata.managed_fields) == list(old.metadata.managed_fields)
        if not (manager and old.metadata.managed_fields and kept):
            return new
        descriptor = new.DESCRIPTOR
        owners = managedfields.record_update(
            codec.encode(old), codec.encode(new), managedfields.owners_of(old.metadata), manager, descriptor
        )
        managedfields.write_owners(new.metadata, owners, resources.of(new).api_version, self.now(), manager)
        return new

    async def delete(
        self,
        resource: Resource[T],
        namespace: str,
        name: str,
        *,
        grace_period_seconds: int | None = None,
        uid: str = "",
        resource_version: str = "",
        propagation_policy: str = "",
        dry_run: bool = False,
    ) -> tuple[T, bool]:
        """Delete now, or mark the object terminating: while a kubelet stops a bound pod, and while
        finalizers are pending (the garbage collector's, with propagation Orphan or Foreground, or a
        namespace's until it is empty). Returns (the object, whether it is gone)."""
        if grace_period_seconds is not None and grace_period_seconds < 0:
            raise Invalid.for_object(
                resource.kind,
                name,
                [invalid("gracePeriodSeconds", grace_period_seconds, "must be greater than or equal to 0")],
            )
        if propagation_policy and propagation_policy not in wellknown.PROPAGATION_POLICIES:
            raise BadRequest(
                f'unsupported propagationPolicy "{propagation_policy}": one of '
                + ", ".join(wellknown.PROPAGATION_POLICIES)
            )
        strategy = self._strategies[resource]
        finalizer = _POLICY_FINALIZERS.get(propagation_policy)

        def change(obj: T) -> T | Delete:
            meta = obj.metadata
            if finalizer is not None and finalizer not in meta.finalizers:
                meta.finalizers.append(finalizer)
            grace = strategy.grace_period(obj, grace_period_seconds)
            if grace == 0 and not strategy.finalizers(obj):
                return DELETE
            if meta.HasField("deletion_timestamp") and meta.deletion_grace_period_seconds <= grace:
                return obj  # already terminating at least this fast: deleting again changes nothing
            meta.deletion_timestamp.CopyFrom(Timestamp(seconds=int(self._clock()) + grace))
            meta.deletion_grace_period_seconds = grace
            strategy.prepare_for_delete(obj)
            return obj

        return await self._guaranteed_update(
            resource, namespace, name, change, uid=uid, resource_version=resource_version, dry_run=dry_run
        )

    async def bind(
        self, namespace: str, name: str, node_name: str, *, uid: str = "", resource_version: str = ""
    ) -> pod_pb2.Pod:
        """Assign a pod to a node (the scheduler's write): only once, only if the pod is as it was read."""
        problems = names.dns1123_subdomain(node_name) if node_name else ["Required value"]
        if problems:
            raise Invalid.for_object(
                "Binding", name, [invalid("target.name", node_name, p) for p in problems]
            )

        def change(pod: pod_pb2.Pod) -> pod_pb2.Pod:
            if pod.spec.node_name:
                raise _conflict(
                    resources.PODS, name, f'pod {name} is already assigned to node "{pod.spec.node_name}"'
                )
            if pod.metadata.HasField("deletion_timestamp"):
                raise _conflict(
                    resources.PODS, name, f"pod {name} is being deleted, cannot be assigned to a host"
                )
            pod.spec.node_name = node_name
            conditions.set_condition(pod.status.conditions, "PodScheduled", "True", self.now())
            return pod

        bound, _ = await self._guaranteed_update(
            resources.PODS, namespace, name, change, uid=uid, resource_version=resource_version
        )
        return bound

    def _wrote(self, resource: Resource[Any], revision: int) -> None:
        self._written[resource.name] = max(revision, self._written.get(resource.name, 0))

    @staticmethod
    async def _guard(operation: Awaitable[R]) -> R:
        """Await a storage call; an unreachable store is the client's 503, not a crash."""
        try:
            return await operation
        except (KeyExists, RevisionMismatch, ClaimTaken, Compacted):
            raise
        except StorageError as err:
            raise Unavailable(str(err)) from err


_CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter."
)


def _continue_token(revision: int, start: str) -> str:
    """Opaque to clients: where the next page starts, and the revision the list reads at."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")  # unpadded, as Kubernetes writes it


def _parse_continue(token: str, prefix: str) -> tuple[str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        start, revision = str(data["start"]), int(data["rv"])
    except (ValueError, KeyError, TypeError) as err:
        raise BadRequest(f"continue key is not valid: {err}") from None
    if not start.startswith(prefix) or revision <= 0:
        raise BadRequest("continue key is not valid: it is for another list")
    return start, revision


def _parse_version(text: str) -> int:
    if not text.isdigit():
        raise BadRequest(f'invalid resource version "{text}": must be a non-negative integer')
    return int(text)
