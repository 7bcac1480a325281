"""The API's operations, whatever the wire: authorize the caller, then hand the call to the registry.

The gRPC service (service.py) and the REST server (rest/) authenticate the caller their own way
(bearer tokens, client certificates), turn their request into one of these calls, and turn its
result or ApiError back into their own format. So authorization, defaults and admission,
validation and storage are one code path for both wires.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from cluster.api import codec, managedfields, resources
from cluster.api.resources import Resource, T
from cluster.apiserver import priority
from cluster.apiserver.auth import AUTHENTICATED_GROUP, NODE_USER_PREFIX, NODES_GROUP, Request, UserInfo
from cluster.apiserver.patching import apply_patch, decode_patched
from cluster.apiserver.rbac import escalation
from cluster.apiserver.rbac.authorizer import RbacAuthorizer
from cluster.apiserver.registry import Registry
from cluster.apiserver.serviceaccounts import Bound, ServiceAccountTokens
from cluster.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    Invalid,
    NotFound,
    Unavailable,
    from_rpc_error,
    invalid,
    required,
)
from cluster.tls import Tls, open_channel
from raykube.v1 import kubelet_pb2, kubelet_pb2_grpc, node_pb2, pod_pb2, review_pb2

DEFAULT_NAMESPACE = "default"
_PATCH_ATTEMPTS = 5


def _apply_config(resource: Resource[Any], config: Any, name: str, namespace: str) -> dict[str, Any]:
    """An apply's configuration, checked against the URL: this kind, this object, no managedFields."""
    if not isinstance(config, dict):
        raise BadRequest("an apply configuration must be an object")
    for key, expected in (("apiVersion", resource.api_version), ("kind", resource.kind)):
        if config.get(key) != expected:
            raise BadRequest(f"{key} must be {expected!r} in an apply configuration, got {config.get(key)!r}")
    meta = config.get("metadata")
    if not isinstance(meta, dict) or meta.get("name") != name:
        raise BadRequest(f"metadata.name must be {name!r}, as on the URL")
    if meta.get("namespace", namespace) != namespace:
        raise BadRequest("the namespace of the object does not match the namespace on the request")
    if "managedFields" in meta:
        raise BadRequest("metadata.managedFields must be nil in an apply configuration")
    return {**config, "metadata": {**meta, "namespace": namespace}} if resource.namespaced else config


def _same_apart_from_owners(a: T, b: T) -> bool:
    left, right = type(a)(), type(b)()
    left.CopyFrom(a)
    right.CopyFrom(b)
    for obj in (left, right):
        obj.metadata.ClearField("managed_fields")
        obj.metadata.ClearField("resource_version")
    return left == right


def _bookmark(resource: Resource[T], revision: int) -> T:
    """A BOOKMARK's object: empty but for the resourceVersion the watcher is up to date with."""
    obj = resource.message()
    obj.metadata.resource_version = str(revision)
    return obj


def object_namespace(resource: Resource[Any], namespace: str) -> str:
    """The namespace a single-object request acts in: 'default' if unset, none if cluster-scoped."""
    return (namespace or DEFAULT_NAMESPACE) if resource.namespaced else ""


class Api:
    def __init__(
        self,
        registry: Registry,
        authorizer: RbacAuthorizer,
        accounts: ServiceAccountTokens,
        *,
        kubelet_token: str = "",
        kubelet_tls: Tls | None = None,
    ):
        self.registry = registry
        self._authz = authorizer
        self._accounts = accounts
        self._kubelet_token = kubelet_token
        self._kubelet_tls = kubelet_tls  # the client certificate kubelets serve

    def allow(
        self, user: UserInfo, verb: str, resource: Resource[Any], *, subresource: str = "",
        namespace: str = "", name: str = "",
    ) -> None:  # fmt: skip
        """Return if `user` may; Forbidden (naming user, verb, resource, namespace) if not."""
        self._authz.authorize(
            Request(user, verb, resource.name, subresource, namespace, name, resource.group)
        )

    def allow_path(self, user: UserInfo, verb: str, path: str) -> None:
        """For non-resource URLs (discovery, OpenAPI): Forbidden unless a rule lists the path."""
        self._authz.authorize(Request(user, verb, "", path=path))

    async def create(self, user: UserInfo, obj: T, *, dry_run: bool = False) -> T:
        resource: Resource[T] = resources.of(obj)
        obj.metadata.namespace = object_namespace(resource, obj.metadata.namespace)
        self.allow(user, "create", resource, namespace=obj.metadata.namespace, name=obj.metadata.name)
        escalation.check(self._authz, user, obj)
        if isinstance(obj, pod_pb2.Pod):
            await priority.admit(self.registry, obj)
        return await self.registry.create(obj, dry_run=dry_run)

    async def get(self, user: UserInfo, resource: Resource[T], namespace: str, name: str) -> T:
        namespace = object_namespace(resource, namespace)
        self.allow(user, "get", resource, namespace=namespace, name=name)
        return await self.registry.get(resource, namespace, name)

    async def list_objects(
        self, user: UserInfo, resource: Resource[T], namespace: str, label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[T], str]:  # fmt: skip
        namespace = namespace if resource.namespaced else ""
        self.allow(user, "list", resource, namespace=namespace)
        return await self.registry.list_objects(resource, namespace, label_selector, field_selector)

    async def update(
        self, user: UserInfo, obj: T, *, status: bool = False, field_manager: str = "", dry_run: bool = False
    ) -> T:
        """Replace the object; on one with managed fields, `field_manager` (the caller's name if
        none is given) owns what it changed."""
        resource: Resource[T] = resources.of(obj)
        meta = obj.metadata
        meta.namespace = object_namespace(resource, meta.namespace)
        self.allow(user, "update", resource, subresource="status" if status else "", namespace=meta.namespace,
                   name=meta.name)  # fmt: skip
        escalation.check(self._authz, user, obj)
        return await self.registry.update(
            obj, status=status, field_manager=field_manager or user.name, dry_run=dry_run
        )

    async def delete(
        self, user: UserInfo, resource: Resource[T], namespace: str, name: str, *,
        grace_period_seconds: int | None = None, uid: str = "", resource_version: str = "",
        propagation_policy: str = "", dry_run: bool = False,
    ) -> tuple[T, bool]:  # fmt: skip
        namespace = object_namespace(resource, namespace)
        self.allow(user, "delete", resource, namespace=namespace, name=name)
        return await self.registry.delete(
            resource, namespace, name, grace_period_seconds=grace_period_seconds, uid=uid,
            resource_version=resource_version, propagation_policy=propagation_policy, dry_run=dry_run,
        )  # fmt: skip

    async def watch(
        self, user: UserInfo, resource: Resource[T], namespace: str, *, label_selector: str = "",
        field_selector: str = "", resource_version: str = "", bookmark_every: float | None = None,
    ) -> AsyncIterator[list[tuple[str, T]]]:  # fmt: skip
        """(type, object) events, in lists of those that were ready together (one message or write
        each); a BOOKMARK's object carries only its resourceVersion. Authorization and the
        selectors are checked before this returns (a REST watch answers them with an HTTP error);
        a resourceVersion too old for the cache fails when iterated (410 Gone)."""
        namespace = namespace if resource.namespaced else ""
        self.allow(user, "watch", resource, namespace=namespace)
        self.registry.predicate(resource, namespace, label_selector, field_selector)
        return self._watch(
            resource, namespace, label_selector, field_selector, resource_version, bookmark_every
        )

    async def _watch(
        self, resource: Resource[T], namespace: str, label_selector: str, field_selector: str,
        resource_version: str, bookmark_every: float | None,
    ) -> AsyncIterator[list[tuple[str, T]]]:  # fmt: skip
        batches = self.registry.watch(resource, namespace, label_selector, field_selector, resource_version,
                                      bookmark_every)  # fmt: skip
        async for ready in batches:
            yield [
                (kind, obj if obj is not None else _bookmark(resource, revision))
                for kind, obj, revision in ready
            ]

    async def list_page(
        self, user: UserInfo, resource: Resource[T], namespace: str, label_selector: str = "",
        field_selector: str = "", *, limit: int = 0, continue_token: str = "", resource_version: str = "",
    ) -> tuple[list[T], str, str]:  # fmt: skip
        namespace = namespace if resource.namespaced else ""
        self.allow(user, "list", resource, namespace=namespace)
        return await self.registry.list_page(
            resource, namespace, label_selector, field_selector, limit=limit, continue_token=continue_token,
            resource_version=resource_version,
        )  # fmt: skip

    async def patch(
        self, user: UserInfo, resource: Resource[T], namespace: str, name: str, patch_type: str, patch: Any,
        *, subresource: str = "", field_manager: str = "", dry_run: bool = False,
    ) -> T:  # fmt: skip
        """Apply a merge, JSON or strategic merge patch to the object as it is now, and write the
        result as an update would (validated, admitted). A write that races another is redone on
        the new state, unless the patch itself named the resourceVersion it expects."""
        namespace = object_namespace(resource, namespace)
        self.allow(user, "patch", resource, subresource=subresource, namespace=namespace, name=name)
        for _ in range(_PATCH_ATTEMPTS):
            current = await self.registry.get(resource, namespace, name)
            patched = apply_patch(resource, codec.encode(current), patch_type, patch)
            obj = decode_patched(resource, patched, name, namespace)
            escalation.check(self._authz, user, obj)
            pinned = obj.metadata.resource_version not in ("", current.metadata.resource_version)
            if not pinned:
                obj.metadata.resource_version = current.metadata.resource_version
            try:
                return await self.registry.update(
                    obj, status=subresource == "status", field_manager=field_manager or user.name,
                    dry_run=dry_run,
                )  # fmt: skip
            except Conflict:
                if pinned:
                    raise
        raise Conflict(f'{resource.name} "{name}": the object keeps changing; try the patch again')

    async def apply(
        self, user: UserInfo, resource: Resource[T], namespace: str, name: str, config: Any, *,
        field_manager: str, force: bool = False, dry_run: bool = False,
    ) -> tuple[T, bool]:  # fmt: skip
        """Server-side apply (managedfields.py): create the object from `config` if it does not
        exist, else merge `config` in as `field_manager`, refusing (409) to change fields other
        managers own unless `force`. Returns the object and whether it was created."""
        namespace = object_namespace(resource, namespace)
        self.allow(user, "patch", resource, namespace=namespace, name=name)
        if not field_manager:
            missing = FieldError(
                "fieldManager", "Required value: is required for apply patch", "FieldValueRequired"
            )
            raise Invalid.for_object("PatchOptions.meta.k8s.io", "", [missing])
        config = _apply_config(resource, config, name, namespace)
        for _ in range(_PATCH_ATTEMPTS):
            try:
                current = await self.registry.get(resource, namespace, name)
            except NotFound:
                self.allow(user, "create", resource, namespace=namespace, name=name)
                merged, owners = managedfields.apply({}, config, [], field_manager, force=force,
                    descriptor=resource.message.DESCRIPTOR, api_version=resource.api_version)  # fmt: skip
                obj = decode_patched(resource, merged, name, namespace)
                managedfields.write_owners(
                    obj.metadata, owners, resource.api_version, self.registry.now(), ""
                )
                escalation.check(self._authz, user, obj)
                try:
                    return await self.registry.create(obj, dry_run=dry_run), True
                except AlreadyExists:
                    continue  # created meanwhile: apply to it
            merged, owners = managedfields.apply(
                codec.encode(current), config, managedfields.owners_of(current.metadata), field_manager,
                force=force, descriptor=resource.message.DESCRIPTOR, api_version=resource.api_version,
            )  # fmt: skip
            obj = decode_patched(resource, merged, name, namespace)
            if _same_apart_from_owners(obj, current) and set(owners) == set(
                managedfields.owners_of(current.metadata)
            ):
                return current, False  # a no-op apply writes nothing (not even new timestamps)
            managedfields.write_owners(
                obj.metadata, owners, resource.api_version, self.registry.now(), field_manager
            )
            obj.metadata.resource_version = current.metadata.resource_version
            escalation.check(self._authz, user, obj)
            try:
                return await self.registry.update(obj, dry_run=dry_run), False
            except Conflict:
                continue
        raise Conflict(f'{resource.name} "{name}": the object keeps changing; try the apply again')

    async def scale(self, user: UserInfo, resource: Resource[T], namespace: str, name: str) -> T:
        """The object behind a scale subresource read."""
        namespace = object_namespace(resource, namespace)
        self.allow(user, "get", resource, subresource="scale", namespace=namespace, name=name)
        return await self.registry.get(resource, namespace, name)

    async def set_scale(
        self,
        user: UserInfo,
        resource: Resource[T],
        namespace: str,
        name: str,
        replicas: int,
        resource_version: str,
        field_manager: str = "",
        dry_run: bool = False,
    ) -> T:
        """Write spec.replicas through the scale subresource (a resourceVersion, if given, must match)."""
        namespace = object_namespace(resource, namespace)
        self.allow(user, "update", resource, subresource="scale", namespace=namespace, name=name)
        if replicas < 0:
            raise Invalid.for_object(
                "Scale", name, [invalid("spec.replicas", replicas, "must be greater than or equal to 0")]
            )
        obj: Any = await self.registry.get(resource, namespace, name)
        if resource_version and resource_version != obj.metadata.resource_version:
            raise Conflict(
                f'Operation cannot be fulfilled on {resource.name}.{resource.group} "{name}": the object '
                "has been modified; please apply your changes to the latest version and try again"
            )
        obj.spec.replicas = replicas
        return await self.registry.update(obj, field_manager=field_manager or user.name, dry_run=dry_run)

    async def delete_collection(
        self, user: UserInfo, resource: Resource[T], namespace: str, label_selector: str = "",
        field_selector: str = "", *, grace_period_seconds: int | None = None, propagation_policy: str = "",
        dry_run: bool = False,
    ) -> list[T]:  # fmt: skip
        """Delete every matching object (each as a single delete would); the objects as deleted."""
        namespace = namespace if resource.namespaced else ""
        self.allow(user, "deletecollection", resource, namespace=namespace)
        items, _ = await self.registry.list_objects(resource, namespace, label_selector, field_selector)
        deleted = []
        for item in items:
            try:
                obj, _ = await self.registry.delete(
                    resource, item.metadata.namespace, item.metadata.name, uid=item.metadata.uid,
                    grace_period_seconds=grace_period_seconds, propagation_policy=propagation_policy,
                    dry_run=dry_run,
                )  # fmt: skip
            except (NotFound, Conflict):
                continue  # gone meanwhile, or replaced by a new object of that name
            deleted.append(obj)
        return deleted

    async def bind(
        self, user: UserInfo, namespace: str, name: str, node_name: str, *, uid: str = "",
        resource_version: str = "",
    ) -> pod_pb2.Pod:  # fmt: skip
        namespace = namespace or DEFAULT_NAMESPACE
        self.allow(user, "create", resources.PODS, subresource="binding", namespace=namespace, name=name)
        return await self.registry.bind(
            namespace, name, node_name, uid=uid, resource_version=resource_version
        )

    def impersonate(self, user: UserInfo, name: str, groups: list[str]) -> UserInfo:
        """Act as `name` (in `groups`), as kubectl --as asks: allowed to whoever may `impersonate` that
        user (or ServiceAccount) and those groups."""
        prefix = "system:serviceaccount:"
        if name.startswith(prefix) and name.count(":") == 3:
            namespace, account = name.removeprefix(prefix).split(":")
            self._authz.authorize(Request(user, "impersonate", "serviceaccounts", "", namespace, account))
        else:
            self._authz.authorize(Request(user, "impersonate", "users", name=name))
        for group in groups:
            self._authz.authorize(Request(user, "impersonate", "groups", name=group))
        return UserInfo(name, "", frozenset({*groups, AUTHENTICATED_GROUP}))

    def whoami(self, user: UserInfo) -> UserInfo:
        self._authz.authorize(Request(user, "create", "selfsubjectreviews", group="authentication.k8s.io"))
        return user

    async def create_token(
        self, user: UserInfo, namespace: str, account: str, *, pod_name: str = "", pod_uid: str = "",
        expiration_seconds: int = 0,
    ) -> tuple[str, int]:  # fmt: skip
        """A token for ServiceAccount `account`, bound to a pod if one is named (TokenRequest); a node
        may ask only for the pods bound to it, and only for their own ServiceAccount."""
        namespace = namespace or DEFAULT_NAMESPACE
        self.allow(
            user, "create", resources.SERVICEACCOUNTS, subresource="token", namespace=namespace, name=account
        )
        found = await self.registry.get(resources.SERVICEACCOUNTS, namespace, account)
        bound = Bound(namespace, account, found.metadata.uid)
        if pod_name:
            pod = await self.registry.get(resources.PODS, namespace, pod_name)
            if pod_uid and pod.metadata.uid != pod_uid:
                raise Conflict(f'pod "{pod_name}" is not the one asked for (uid {pod_uid})')
            if (pod.spec.service_account_name or "default") != account:
                raise BadRequest(
                    f'pod "{pod_name}" runs as service account "{pod.spec.service_account_name}"'
                )
            node = user.name.removeprefix(NODE_USER_PREFIX)
            if NODES_GROUP in user.groups and pod.spec.node_name != node:
                raise Forbidden(f'node "{node}" may only ask for tokens of pods bound to it')
            bound = Bound(namespace, account, found.metadata.uid, pod_name, pod.metadata.uid)
        elif NODES_GROUP in user.groups:
            raise Forbidden("a node may only ask for tokens bound to its pods")
        return self._accounts.issue(bound, expiration_seconds)

    def access_review(
        self, user: UserInfo, review: review_pb2.SelfSubjectAccessReview
    ) -> review_pb2.SelfSubjectAccessReview:
        """May `user` do what the review asks (`kubectl auth can-i`)? The review, with its status."""
        self._authz.authorize(
            Request(user, "create", "selfsubjectaccessreviews", group="authorization.k8s.io")
        )
        spec = review.spec
        if spec.HasField("resource_attributes"):
            a = spec.resource_attributes
            asked = Request(user, a.verb, a.resource, a.subresource, a.namespace, a.name, a.group)
        elif spec.HasField("non_resource_attributes"):
            asked = Request(
                user, spec.non_resource_attributes.verb, "", path=spec.non_resource_attributes.path
            )
        else:
            raise Invalid.for_object("SelfSubjectAccessReview", "", [required("spec.resourceAttributes")])
        answered = review_pb2.SelfSubjectAccessReview()
        answered.CopyFrom(review)
        answered.status.allowed = self._authz.allowed(asked)
        return answered

    async def logs(
        self, user: UserInfo, namespace: str, name: str, *, container: str = "", follow: bool = False,
        tail_lines: int = 0, previous: bool = False,
    ) -> AsyncIterator[bytes]:  # fmt: skip
        """A container's output, streamed from the kubelet of the pod's node."""
        namespace = namespace or DEFAULT_NAMESPACE
        self.allow(user, "get", resources.PODS, subresource="log", namespace=namespace, name=name)
        pod = await self.registry.get(resources.PODS, namespace, name)
        chosen = _log_container(pod, container)
        if not pod.spec.node_name:
            raise BadRequest(f"pod {name} does not have a host assigned")
        node = await self.registry.get(resources.NODES, "", pod.spec.node_name)
        request = kubelet_pb2.KubeletLogsRequest(pod_uid=pod.metadata.uid, container=chosen, follow=follow,
                                                 tail_lines=tail_lines, previous=previous)  # fmt: skip
        async with open_channel(kubelet_address(node), self._kubelet_tls) as kubelet:
            metadata = (("authorization", f"Bearer {self._kubelet_token}"),) if self._kubelet_token else ()
            call = kubelet_pb2_grpc.KubeletStub(kubelet).Logs(request, metadata=metadata)
            try:
                async for chunk in call:
                    yield chunk.data
            except grpc.aio.AioRpcError as err:
                raise from_rpc_error(err) from None


def _log_container(pod: pod_pb2.Pod, requested: str) -> str:
    """The container whose logs are wanted: the named one, or the only one (kubectl's rule)."""
    names = [c.name for c in pod.spec.containers]
    if not requested:
        if len(names) == 1:
            return names[0]
        choices = " ".join(names)
        raise BadRequest(
            f"a container name must be specified for pod {pod.metadata.name}, choose one of: [{choices}]"
        )
    if requested not in names:
        raise BadRequest(f"container {requested} is not valid for pod {pod.metadata.name}")
    return requested


def kubelet_address(node: node_pb2.Node) -> str:
    """host:port of a node's kubelet service, from its InternalIP and daemonEndpoints."""
    port = node.status.daemon_endpoints.kubelet_endpoint.port
    address = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")
    if not port or not address:
        raise Unavailable(f'node "{node.metadata.name}" has not reported its kubelet endpoint')
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
