"""The REST verbs over one resource URL, each a thin translation onto `Api` (../api.py).

GET    collection      list (a Table when asked), or watch=true: a chunked stream of JSON events
POST   collection      create
DELETE collection      deletecollection
GET    item            get; subresources status, scale, log (streamed, follow=true keeps it open)
PUT    item            update; status and scale subresources
PATCH  item            JSON, merge or strategic merge patch (server-side apply: patching.py)
DELETE item            delete with DeleteOptions (body or query): grace, preconditions, propagation
POST   pods/x/binding  bind
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import yaml
from aiohttp import web
from google.protobuf.message import Message

from cluster.api import codec, kubeproto, labels, limits, patch, resources, tables
from cluster.api.resources import Resource
from cluster.apiserver.api import Api, object_namespace
from cluster.apiserver.auth import UserInfo
from cluster.apiserver.patching import decode_body
from cluster.apiserver.rest import negotiation
from cluster.apiserver.rest.paths import Target
from cluster.apiserver.rest.responses import (
    JSON,
    list_json,
    object_json,
    respond,
    status_json,
    success_json,
)
from cluster.errors import ApiError, BadRequest, Invalid, MethodNotAllowed, invalid
from raykube.v1 import review_pb2

_BINARY = ("application/vnd.kubernetes.protobuf", "application/cbor")


class NotAcceptableBody(ApiError):
    """A patch or option body in a binary encoding (objects may come as protobuf, nothing else may)."""

    http_code, reason = 415, "UnsupportedMediaType"

    def __init__(self, content_type: str):
        super().__init__(f"the body of the request was in an unknown format - accepted media types include: "
                         f"application/json, application/yaml (got {content_type})")  # fmt: skip


WATCH_TIMEOUT = 1800.0  # seconds a watch lasts unless the client says (kube-apiserver: 30-60 min)


class Handlers:
    def __init__(self, api: Api, *, bookmark_every: float = 5.0):
        self._api = api
        self._bookmark_every = bookmark_every

    async def handle(self, request: web.Request, user: UserInfo, target: Target) -> web.StreamResponse:
        method, item = request.method, bool(target.name)
        sub = target.subresource
        if not item:
            if method == "GET":
                if _flag(request, "watch"):
                    return await self._watch(request, user, target)
                return await self._list(request, user, target)
            if method == "POST":
                return await self._create(request, user, target)
            if method == "DELETE":
                return await self._delete_collection(request, user, target)
        elif sub == "log" and method == "GET":
            return await self._logs(request, user, target)
        elif sub == "scale" and method in ("GET", "PUT", "PATCH"):
            return await self._scale(request, user, target)
        elif sub == "binding" and method == "POST":
            return await self._bind(request, user, target)
        elif sub == "token" and method == "POST":
            return await self._token(request, user, target)
        elif sub in ("", "status"):
            if method == "GET":
                obj = await self._api.get(user, target.resource, target.namespace, target.name)
                return self._object(request, target.resource, obj)
            if method == "PUT":
                return await self._update(request, user, target)
            if method == "PATCH":
                return await self._patch(request, user, target)
            if method == "DELETE" and not sub:
                return await self._delete(request, user, target)
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource ({method})")

    # -- reads -------------------------------------------------------------------------------

    def _object(
        self, request: web.Request, resource: Resource[Any], obj: Any, status: int = 200
    ) -> web.Response:
        if negotiation.wants_table(request.headers.get("Accept", "")):
            return respond(
                tables.table_json(resource, [obj], time.time(), obj.metadata.resource_version), status
            )
        return respond(object_json(resource, obj), status)

    async def _list(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        query = request.query
        exact = query.get("resourceVersion", "") if query.get("resourceVersionMatch") == "Exact" else ""
        selectors = query.get("labelSelector", ""), query.get("fieldSelector", "")
        items, version, token = await self._api.list_page(
            user, target.resource, target.namespace, *selectors, limit=_int(query, "limit") or 0,
            continue_token=query.get("continue", ""), resource_version=exact,
        )  # fmt: skip
        if negotiation.wants_table(request.headers.get("Accept", "")):
            return respond(tables.table_json(target.resource, items, time.time(), version, token))
        return respond(list_json(target.resource, items, version, token))

    async def _watch(self, request: web.Request, user: UserInfo, target: Target) -> web.StreamResponse:
        query = request.query
        version = query.get("resourceVersion", "")
        batches = await self._api.watch(
            user, target.resource, target.namespace, label_selector=query.get("labelSelector", ""),
            field_selector=query.get("fieldSelector", ""), resource_version="" if version == "0" else version,
            bookmark_every=self._bookmark_every if _flag(request, "allowWatchBookmarks") else None,
        )  # fmt: skip
        table = negotiation.wants_table(request.headers.get("Accept", ""))
        response = web.StreamResponse(headers={"Content-Type": JSON, "Cache-Control": "no-cache, private"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        timeout = _int(query, "timeoutSeconds") or WATCH_TIMEOUT
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            async with asyncio.timeout(timeout):
                try:
                    async for ready in batches:  # one write per burst: a line per event
                        lines = []
                        for kind, obj in ready:
                            shown = (
                                tables.table_json(
                                    target.resource, [obj], time.time(), obj.metadata.resource_version
                                )
                                if table and kind != "BOOKMARK"
                                else object_json(target.resource, obj)
                            )
                            lines.append(json.dumps({"type": kind, "object": shown}).encode() + b"\n")
                        await response.write(b"".join(lines))
                except ApiError as err:  # e.g. 410 Gone: the resourceVersion is older than the cache keeps
                    await response.write(
                        json.dumps({"type": "ERROR", "object": status_json(err)}).encode() + b"\n"
                    )
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _logs(self, request: web.Request, user: UserInfo, target: Target) -> web.StreamResponse:
        query = request.query
        chunks = self._api.logs(
            user, target.namespace, target.name, container=query.get("container", ""),
            follow=_flag(request, "follow"), tail_lines=_int(query, "tailLines") or 0,
            previous=_flag(request, "previous"),
        )  # fmt: skip
        first = await _first(chunks)  # errors (no such container, no node) still become an HTTP status
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            if first is not None:
                await response.write(first)
                async for chunk in chunks:
                    await response.write(chunk)
            await response.write_eof()
        return response

    # -- writes ------------------------------------------------------------------------------

    async def _create(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        obj, warnings = decode_body(target.resource, await _object_body(request), _validation(request))
        namespace = target.namespace or object_namespace(target.resource, obj.metadata.namespace)
        if target.resource.namespaced and obj.metadata.namespace not in ("", namespace):
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        obj.metadata.namespace = namespace if target.resource.namespaced else ""
        created = await self._api.create(user, obj, dry_run=_dry_run(request))
        return _warned(self._object(request, target.resource, created, 201), warnings)

    async def _update(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        obj, warnings = decode_body(target.resource, await _object_body(request), _validation(request))
        _same_object(target, obj)
        updated = await self._api.update(
            user, obj, status=target.subresource == "status", field_manager=_field_manager(request),
            dry_run=_dry_run(request),
        )  # fmt: skip
        return _warned(self._object(request, target.resource, updated), warnings)

    async def _patch(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
        body = await _json_body(request, yaml_too=content_type == patch.APPLY_PATCH)
        if content_type == patch.APPLY_PATCH:
            if target.subresource:
                raise BadRequest(
                    f"server-side apply to the {target.subresource} subresource is not supported"
                )
            force = request.query.get("force", "false")
            if force not in ("true", "false"):
                raise BadRequest(f'force must be "true" or "false", got "{force}"')
            applied, created = await self._api.apply(
                user, target.resource, target.namespace, target.name, body,
                field_manager=_field_manager(request, applying=True), force=force == "true",
                dry_run=_dry_run(request),
            )  # fmt: skip
            return self._object(request, target.resource, applied, 201 if created else 200)
        patched = await self._api.patch(
            user, target.resource, target.namespace, target.name, content_type, body,
            subresource=target.subresource, field_manager=_field_manager(request), dry_run=_dry_run(request),
        )  # fmt: skip
        return self._object(request, target.resource, patched)

    async def _delete(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        options = await _delete_options(request)
        preconditions = options.get("preconditions") or {}
        obj, _ = await self._api.delete(
            user, target.resource, target.namespace, target.name,
            grace_period_seconds=options.get("gracePeriodSeconds"), uid=preconditions.get("uid") or "",
            resource_version=preconditions.get("resourceVersion") or "",
            propagation_policy=options.get("propagationPolicy") or "", dry_run=_dry_run(request, options),
        )  # fmt: skip
        return respond(object_json(target.resource, obj))

    async def _delete_collection(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        options = await _delete_options(request)
        query = request.query
        selectors = query.get("labelSelector", ""), query.get("fieldSelector", "")
        deleted = await self._api.delete_collection(
            user, target.resource, target.namespace, *selectors,
            grace_period_seconds=options.get("gracePeriodSeconds"),
            propagation_policy=options.get("propagationPolicy") or "", dry_run=_dry_run(request, options),
        )  # fmt: skip
        return respond(list_json(target.resource, deleted, ""))

    async def _bind(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        body = await _json_body(request)
        node = ((body.get("target") or {}).get("name") or "") if isinstance(body, dict) else ""
        await self._api.bind(user, target.namespace, target.name, node)
        return respond(success_json(target.name, "pods"), 201)

    async def review(self, request: web.Request, user: UserInfo, kind: str) -> web.Response:
        """POST of a SelfSubjectAccessReview or SelfSubjectReview: answered, never stored."""
        if kind == "SelfSubjectReview":
            who = self._api.whoami(user)
            info = {
                "username": who.name,
                "groups": sorted(who.groups),
                **({"uid": who.uid} if who.uid else {}),
            }
            return respond({"apiVersion": "authentication.k8s.io/v1", "kind": kind, "metadata": {},
                            "status": {"userInfo": info}}, 201)  # fmt: skip
        body = await _object_body(request, review_pb2.SelfSubjectAccessReview)
        try:
            asked = codec.decode({k: v for k, v in body.items() if k not in ("apiVersion", "kind")},
                                 review_pb2.SelfSubjectAccessReview)  # fmt: skip
        except codec.DecodeError as err:
            raise Invalid.for_object(kind, "", err.errors) from None
        answered = self._api.access_review(user, asked)
        return respond({"apiVersion": "authorization.k8s.io/v1", "kind": kind, **codec.encode(answered)}, 201)

    async def _token(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        """A TokenRequest (authentication.k8s.io/v1): a ServiceAccount token, bound to a pod if asked."""
        body = await _object_body(request, review_pb2.TokenRequest)  # JSON, or protobuf from kubectl 1.33
        spec = body.get("spec") or {}
        ref = spec.get("boundObjectRef") or {}
        if ref and ref.get("kind") != "Pod":
            raise BadRequest(f'spec.boundObjectRef.kind: only Pod is supported, got "{ref.get("kind")}"')
        seconds = spec.get("expirationSeconds") or 0
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise BadRequest(f"spec.expirationSeconds must be an integer, got {json.dumps(seconds)}")
        token, expires = await self._api.create_token(
            user, target.namespace, target.name, pod_name=ref.get("name") or "", pod_uid=ref.get("uid") or "",
            expiration_seconds=seconds,
        )  # fmt: skip
        expiry = datetime.datetime.fromtimestamp(expires, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return respond({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "metadata": {"name": target.name, "namespace": target.namespace}, "spec": spec,
                        "status": {"token": token, "expirationTimestamp": expiry}}, 201)  # fmt: skip

    async def _scale(self, request: web.Request, user: UserInfo, target: Target) -> web.Response:
        resource = target.resource
        obj = await self._api.scale(user, resource, target.namespace, target.name)
        if request.method == "GET":
            return respond(scale_json(obj))
        body = await _json_body(request)
        if request.method == "PATCH":
            content_type = request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type == patch.JSON_PATCH:
                body = patch.json_patch(scale_json(obj), body)
            elif content_type in (patch.MERGE_PATCH, patch.STRATEGIC_MERGE_PATCH):
                body = patch.merge_patch(scale_json(obj), body)
            else:
                raise BadRequest(f"unsupported patch type for scale: {content_type}")
        replicas = ((body.get("spec") or {}).get("replicas") if isinstance(body, dict) else None) or 0
        version = (
            ((body.get("metadata") or {}).get("resourceVersion") or "") if isinstance(body, dict) else ""
        )
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise BadRequest(f"spec.replicas must be an integer, got {json.dumps(replicas)}")
        if request.method == "PATCH":
            version = ""  # a patch applies to the object as it is
        updated = await self._api.set_scale(
            user, resource, target.namespace, target.name, replicas, version, _field_manager(request),
            _dry_run(request),
        )  # fmt: skip
        return respond(scale_json(updated))


def scale_json(obj: Any) -> dict[str, Any]:
    """autoscaling/v1 Scale of a Deployment or ReplicaSet."""
    meta = obj.metadata
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid,
                     "resourceVersion": meta.resource_version,
                     "creationTimestamp": meta.creation_timestamp.ToJsonString()},
        "spec": {"replicas": obj.spec.replicas},
        "status": {"replicas": obj.status.replicas,
                   "selector": str(labels.from_label_selector(obj.spec.selector))},
    }  # fmt: skip


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _int(query: Any, name: str) -> int | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    try:
        return int(text)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {text!r}") from None


def _validation(request: web.Request) -> str:
    return request.query.get("fieldValidation") or "Strict"


def _dry_run(request: web.Request, options: dict[str, Any] | None = None) -> bool:
    """dryRun=All (in the query, or in DeleteOptions): answer as if written, write nothing."""
    in_options = (options or {}).get("dryRun") or []
    if not isinstance(in_options, list):
        raise BadRequest(f"dryRun must be a list, got {json.dumps(in_options)}")
    values = [*request.query.getall("dryRun", []), *in_options]
    if any(v not in ("All", "") for v in values):
        raise BadRequest(f'dryRun must be "All", got {values}')
    return "All" in values


async def _object_body(request: web.Request, message: type[Message] | None = None) -> Any:
    """An object sent as JSON, or in Kubernetes' protobuf encoding (kubectl 1.33's typed clients);
    `message`: its type, when it is not a resource's (reviews)."""
    if request.content_type == kubeproto.CONTENT_TYPE:
        api_version, kind, raw = kubeproto.decode_envelope(await request.read())
        descriptor: Any = (message or resources.by_kind(kind, api_version).message).DESCRIPTOR
        return {"apiVersion": api_version, "kind": kind, **kubeproto.to_json(raw, descriptor)}
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def _json_body(request: web.Request, *, yaml_too: bool = False) -> Any:
    if request.content_type in _BINARY:
        raise NotAcceptableBody(request.content_type)
    try:
        text = (await request.read()).decode()  # UTF-8, as JSON and Kubernetes' YAML must be
        if not yaml_too:
            return limits.load_json(text)
        documents = limits.load_yaml_documents(text, yaml.SafeLoader, "the request body")
    except (ValueError, yaml.YAMLError) as err:
        raise BadRequest(f"the request body is not valid {'YAML' if yaml_too else 'JSON'}: {err}") from None
    if len(documents) > 1:
        raise BadRequest(f"the request body must be one YAML document, not {len(documents)}")
    return documents[0] if documents else None


async def _delete_options(request: web.Request) -> dict[str, Any]:
    """DeleteOptions from the body (kubectl) or the query (curl, client libraries)."""
    options: dict[str, Any] = {}
    if request.can_read_body:
        body = await _json_body(request)
        if body is not None and not isinstance(body, dict):
            raise BadRequest("DeleteOptions must be a JSON object")
        options = body or {}
    query = request.query
    if "gracePeriodSeconds" in query:
        options["gracePeriodSeconds"] = _int(query, "gracePeriodSeconds")
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    if options.get("orphanDependents") is True or query.get("orphanDependents") == "true":
        options.setdefault("propagationPolicy", "Orphan")
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise BadRequest(f"gracePeriodSeconds must be an integer, got {json.dumps(grace)}")
    return options


def _same_object(target: Target, obj: Any) -> None:
    meta = obj.metadata
    if meta.name != target.name:
        raise BadRequest(
            f"the name of the object ({meta.name}) does not match the name on the URL ({target.name})"
        )
    if target.resource.namespaced:
        if meta.namespace not in ("", target.namespace):
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta.namespace = target.namespace


def _field_manager(request: web.Request, *, applying: bool = False) -> str:
    """Who owns what a write changes: `fieldManager`, else (not for applies, which must name one)
    the client's User-Agent up to its first "/" ("kubectl/v1.33.0 ..." -> "kubectl")."""
    manager = request.query.get("fieldManager")
    if manager is None and not applying:
        manager = request.headers.get("User-Agent", "unknown").split("/", 1)[0]
    manager = manager or ""
    if len(manager) > 128 or not manager.isprintable():
        problem = "must be no more than 128 characters" if len(manager) > 128 else "must be printable"
        raise Invalid.for_object("PatchOptions.meta.k8s.io", "", [invalid("fieldManager", manager, problem)])
    return manager


def _warned(response: web.Response, warnings: list[str]) -> web.Response:
    for warning in warnings:
        response.headers.add("Warning", f"299 - {json.dumps(warning)}")
    return response


async def _first(chunks: AsyncIterator[bytes]) -> bytes | None:
    async for chunk in chunks:
        return chunk
    return None
