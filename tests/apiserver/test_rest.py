"""The REST side on a real store and API server, spoken to over HTTP as kubectl and client
libraries speak it: discovery and OpenAPI, authentication, CRUD with the three patch types,
Tables, paging, watches, the scale subresource, and Kubernetes' Status errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from cluster.api import patch
from raykube.openapi import openapi_v2_pb2
from tests.harness import ControlPlane, control_plane

ADMIN = {"Authorization": "Bearer admin-token"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
PODS = "/api/v1/namespaces/default/pods"


def pod(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "busybox:1.35"}], **spec}}  # fmt: skip


Scenario = Callable[[ControlPlane, "Http"], Awaitable[None]]


class Http:
    """A client session against the plane's REST side, returning (status, JSON or text, headers)."""

    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.session, self.base = session, base

    async def call(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
        content_type: str = "application/json", token: str | None = "admin-token",
    ) -> tuple[int, Any, Any]:  # fmt: skip
        sent = {"Content-Type": content_type, **({"Authorization": f"Bearer {token}"} if token else {}),
                **(headers or {})}  # fmt: skip
        data = None if body is None else (body if isinstance(body, bytes | str) else json.dumps(body))
        async with self.session.request(method, self.base + path, data=data, headers=sent) as response:
            raw = await response.read()
            try:
                parsed: Any = json.loads(raw)
            except ValueError:
                parsed = raw
            return response.status, parsed, response.headers


def run(tmp_path: Path, scenario: Scenario, **options: Any) -> None:
    async def main() -> None:
        async with control_plane(tmp_path, **options) as plane, aiohttp.ClientSession() as session:
            await scenario(plane, Http(session, plane.rest_url))

    asyncio.run(main())


def test_discovery_version_and_openapi(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        status, version, _ = await http.call("GET", "/version", token=None)
        assert status == 200 and version["minor"] == "30"
        status, _, _ = await http.call("GET", "/api", token=None)
        assert status == 401  # discovery needs a credential; /version, /healthz do not
        _, api, _ = await http.call("GET", "/api")
        assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
        _, groups, _ = await http.call("GET", "/apis")
        assert {g["name"] for g in groups["groups"]} == {
            "apps", "coordination.k8s.io", "discovery.k8s.io", "rbac.authorization.k8s.io", "authorization.k8s.io",
            "authentication.k8s.io", "scheduling.k8s.io"}  # fmt: skip
        _, core, _ = await http.call("GET", "/api/v1")
        by_name = {r["name"]: r for r in core["resources"]}
        assert by_name["pods"]["categories"] == ["all"] and by_name["pods"]["shortNames"] == ["po"]
        assert by_name["pods/log"]["verbs"] == ["get"] and by_name["nodes"]["namespaced"] is False
        _, apps, _ = await http.call("GET", "/apis/apps/v1")
        assert by_kind(apps["resources"], "deployments/scale")["group"] == "autoscaling"
        accept = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        _, aggregated, headers = await http.call("GET", "/apis", headers={"Accept": accept})
        assert (
            headers["Content-Type"]
            == "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
        )
        assert aggregated["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
        assert "deployments" in [r["resource"] for g in aggregated["items"] for v in g["versions"]
                                 for r in v["resources"]]  # fmt: skip
        _, index, _ = await http.call("GET", "/openapi/v3")
        url = index["paths"]["api/v1"]["serverRelativeURL"]
        _, v3, _ = await http.call("GET", url.split("?")[0])
        operation = v3["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
        assert operation["parameters"][0]["name"] == "fieldValidation"
        status, raw, headers = await http.call("GET", "/openapi/v2")
        assert headers["Content-Type"] == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
        document = openapi_v2_pb2.Document.FromString(raw)
        pods = next(p for p in document.paths.path if p.name == "/api/v1/namespaces/{namespace}/pods/{name}")
        [parameter] = pods.value.patch.parameters
        assert parameter.parameter.non_body_parameter.query_parameter_sub_schema.name == "fieldValidation"
        assert "kind: Pod" in pods.value.patch.vendor_extension[0].value.yaml

    run(tmp_path, scenario)


def by_kind(entries: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(e for e in entries if e["name"] == name)


def test_crud_patches_and_status_errors(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        status, created, _ = await http.call("POST", PODS, pod("web"))
        assert status == 201 and created["kind"] == "Pod" and created["metadata"]["namespace"] == "default"
        status, again, _ = await http.call("POST", PODS, pod("web"))
        assert (status, again["reason"], again["message"]) == (
            409,
            "AlreadyExists",
            'pods "web" already exists',
        )
        status, missing, _ = await http.call("GET", f"{PODS}/nope")
        assert (status, missing["kind"], missing["reason"], missing["details"]) == (
            404, "Status", "NotFound", {"name": "nope", "kind": "Pod"})  # fmt: skip
        bad = pod("bad")
        bad["spec"]["containers"][0]["imagee"] = "x"
        status, refused, _ = await http.call("POST", PODS + "?fieldValidation=Strict", bad)
        assert status == 400 and refused["message"] == (
            'Pod in version "v1" cannot be handled as a Pod: strict decoding error: '
            'unknown field "spec.containers[0].imagee"')  # fmt: skip
        status, _, headers = await http.call("POST", PODS + "?fieldValidation=Warn", bad)
        assert status == 201 and headers["Warning"] == '299 - "unknown field \\"spec.containers[0].imagee\\""'
        status, invalid, _ = await http.call("POST", PODS, pod("Bad_Name"))
        assert status == 422 and invalid["reason"] == "Invalid"
        assert invalid["details"]["causes"][0]["field"] == "metadata.name"

        merged = {"metadata": {"labels": {"tier": "db", "app": None}}}
        status, patched, _ = await http.call("PATCH", f"{PODS}/web", merged, content_type=patch.MERGE_PATCH)
        assert status == 200 and patched["metadata"]["labels"] == {"tier": "db"}
        strategic = {"spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}
        status, patched, _ = await http.call("PATCH", f"{PODS}/web", strategic,
                                             content_type=patch.STRATEGIC_MERGE_PATCH)  # fmt: skip
        assert status == 200 and [(c["name"], c["image"]) for c in patched["spec"]["containers"]] == [
            ("main", "busybox:1.36")
        ]  # merged by name: the container's other fields stay
        operations = [{"op": "add", "path": "/metadata/annotations", "value": {"note": "hi"}}]
        status, patched, _ = await http.call(
            "PATCH", f"{PODS}/web", operations, content_type=patch.JSON_PATCH
        )
        assert status == 200 and patched["metadata"]["annotations"] == {"note": "hi"}
        status, unsupported, _ = await http.call("PATCH", f"{PODS}/web", {}, content_type="text/plain")
        assert (status, unsupported["reason"]) == (415, "UnsupportedMediaType")
        stale = {**patched, "metadata": {**patched["metadata"], "resourceVersion": "1"}}
        status, conflict, _ = await http.call("PUT", f"{PODS}/web", stale)
        assert (status, conflict["reason"]) == (409, "Conflict")
        status, updated, _ = await http.call("PUT", f"{PODS}/web", {**patched, "metadata": {
            **patched["metadata"], "labels": {"app": "web"}}})  # fmt: skip
        assert status == 200 and updated["metadata"]["labels"] == {"app": "web"}
        status, renamed, _ = await http.call("PUT", f"{PODS}/other", updated)
        assert status == 400 and "does not match the name on the URL" in renamed["message"]

        status, table, _ = await http.call("GET", PODS, headers={"Accept": TABLE})
        assert status == 200 and table["kind"] == "Table"
        assert [c["name"] for c in table["columnDefinitions"]][:5] == [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
        ]
        assert [row["cells"][:3] for row in table["rows"]] == [
            ["bad", "0/1", "Pending"],
            ["web", "0/1", "Pending"],
        ]
        assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"

        status, deleted, _ = await http.call("DELETE", f"{PODS}/web", {"kind": "DeleteOptions",
                                             "apiVersion": "v1", "gracePeriodSeconds": 0})  # fmt: skip
        assert status == 200 and deleted["metadata"]["name"] == "web"
        assert (await http.call("GET", f"{PODS}/web"))[0] == 404

    run(tmp_path, scenario)


def test_authentication_and_authorization_errors(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        assert (await http.call("GET", "/healthz", token=None))[:2] == (200, b"ok")
        assert (await http.call("GET", "/readyz", token=None))[:2] == (200, b"ok")
        status, unauthorized, _ = await http.call("GET", PODS, token=None)
        assert (status, unauthorized["reason"]) == (401, "Unauthorized")
        assert (await http.call("GET", PODS, token="wrong"))[0] == 401
        status, forbidden, _ = await http.call("GET", PODS, token="nobody-token")
        assert (status, forbidden["reason"], forbidden["message"]) == (
            403,
            "Forbidden",
            (
                'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default"'
            ),
        )
        status, forbidden, _ = await http.call("DELETE", "/api/v1/nodes/n1", token="nobody-token")
        assert status == 403 and 'cannot delete resource "nodes"' in forbidden["message"]
        assert (await http.call("GET", "/api/v1/frobs"))[0] == 404
        assert (await http.call("POST", f"{PODS}/web/log", {}))[1]["reason"] == "MethodNotAllowed"

    run(tmp_path, scenario)


def test_lists_page_consistently_and_select(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        for i in range(5):
            await http.call("POST", PODS, pod(f"p{i}", {"app": "web", "n": str(i % 2)}))
        seen, token, versions = [], "", set()
        while True:
            _, page, _ = await http.call("GET", f"{PODS}?limit=2" + (f"&continue={token}" if token else ""))
            seen += [p["metadata"]["name"] for p in page["items"]]
            versions.add(page["metadata"]["resourceVersion"])
            if token == "":
                await http.call(
                    "POST", PODS, pod("pz-late")
                )  # after the first page (and sorts last): not listed
            token = page["metadata"].get("continue", "")
            if not token:
                break
        assert seen == ["p0", "p1", "p2", "p3", "p4"] and len(versions) == 1  # one snapshot
        _, odd, _ = await http.call("GET", f"{PODS}?labelSelector=n%3D1")
        assert [p["metadata"]["name"] for p in odd["items"]] == ["p1", "p3"]
        status, bad, _ = await http.call("GET", f"{PODS}?continue=garbage")
        assert status == 400 and "continue key is not valid" in bad["message"]
        status, bad, _ = await http.call("GET", f"{PODS}?labelSelector=%3D%3D")
        assert status == 400
        _, everywhere, _ = await http.call("GET", "/api/v1/pods")
        assert len(everywhere["items"]) == 6
        status, gone, _ = await http.call("DELETE", f"{PODS}?labelSelector=n%3D0")
        assert status == 200 and sorted(p["metadata"]["name"] for p in gone["items"]) == ["p0", "p2", "p4"]

    run(tmp_path, scenario)


async def events(
    http: Http, path: str, count: int, headers: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The first `count` events of a watch."""
    found = []
    async with http.session.get(http.base + path, headers={**ADMIN, **(headers or {})}) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("application/json")
        async for line in response.content:
            found.append(json.loads(line))
            if len(found) == count:
                break
    return found


def test_watches_stream_events_bookmarks_tables_and_expiry(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        _, listed, _ = await http.call("GET", PODS)
        version = listed["metadata"]["resourceVersion"]
        watching = asyncio.create_task(events(http, f"{PODS}?watch=true&resourceVersion={version}", 3))
        await asyncio.sleep(0.3)
        await http.call("POST", PODS, pod("w"))
        await http.call(
            "PATCH", f"{PODS}/w", {"metadata": {"labels": {"x": "y"}}}, content_type=patch.MERGE_PATCH
        )
        await http.call("DELETE", f"{PODS}/w?gracePeriodSeconds=0")
        seen = await asyncio.wait_for(watching, 10)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in seen] == [
            ("ADDED", "w"), ("MODIFIED", "w"), ("DELETED", "w")]  # fmt: skip
        assert seen[0]["object"]["kind"] == "Pod"
        bookmark = await asyncio.wait_for(
            events(
                http,
                f"{PODS}?watch=1&allowWatchBookmarks=true&resourceVersion="
                f"{seen[-1]['object']['metadata']['resourceVersion']}",
                1,
            ),
            10,
        )
        assert bookmark[0]["type"] == "BOOKMARK" and bookmark[0]["object"]["metadata"]["resourceVersion"]
        table = asyncio.create_task(events(http, f"{PODS}?watch=true", 1, {"Accept": TABLE}))
        await asyncio.sleep(0.3)
        await http.call("POST", PODS, pod("t"))
        [row] = await asyncio.wait_for(table, 10)
        assert row["object"]["kind"] == "Table" and row["object"]["rows"][0]["cells"][0] == "t"
        [expired] = await asyncio.wait_for(events(http, f"{PODS}?watch=true&resourceVersion=1", 1), 10)
        assert expired["type"] == "ERROR" and (expired["object"]["code"], expired["object"]["reason"]) == (
            410,
            "Expired",
        )
        status, _, _ = await http.call("GET", f"{PODS}?watch=true&labelSelector=%3D%3D")
        assert status == 400  # a bad selector is an HTTP error, before any streaming
        status, _, _ = await http.call("GET", f"{PODS}?watch=true&timeoutSeconds=1")
        assert status == 200  # ended by the server after a second

    # Three events in the cache's window: version 1 is older than the window once "t" is created
    # (the cache's window may start at version 1 when it first listed before the system objects).
    run(tmp_path, scenario, bookmark_every=0.2, watch_cache_size=3)


def test_the_scale_subresource(tmp_path: Path) -> None:
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                           "template": {"metadata": {"labels": {"app": "web"}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}}}  # fmt: skip
    url = "/apis/apps/v1/namespaces/default/deployments/web"

    async def scenario(plane: ControlPlane, http: Http) -> None:
        assert (await http.call("POST", "/apis/apps/v1/namespaces/default/deployments", deployment))[0] == 201
        _, scale, _ = await http.call("GET", f"{url}/scale")
        assert (scale["kind"], scale["spec"], scale["status"]["selector"]) == (
            "Scale",
            {"replicas": 1},
            "app=web",
        )
        status, scaled, _ = await http.call("PATCH", f"{url}/scale", {"spec": {"replicas": 4}},
                                            content_type=patch.MERGE_PATCH)  # fmt: skip
        assert status == 200 and scaled["spec"]["replicas"] == 4
        assert (await http.call("GET", url))[1]["spec"]["replicas"] == 4
        stale = {
            **scaled,
            "spec": {"replicas": 2},
            "metadata": {**scaled["metadata"], "resourceVersion": "1"},
        }
        assert (await http.call("PUT", f"{url}/scale", stale))[0] == 409
        status, negative, _ = await http.call("PUT", f"{url}/scale", {"spec": {"replicas": -1}})
        assert status == 422 and negative["details"]["causes"][0]["field"] == "spec.replicas"

    run(tmp_path, scenario)


def test_body_and_in_flight_limits(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        status, too_large, _ = await http.call("POST", PODS, b"{" + b" " * (3 * 1024 * 1024) + b"}")
        assert (status, too_large["reason"], too_large["message"]) == (
            413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")  # fmt: skip
        status, _, _ = await http.call("POST", PODS, "{not json")
        assert status == 400
        deep = json.dumps(pod("deep"))[:-2] + ', "x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
        status, refused, _ = await http.call("POST", PODS, deep)
        assert (status, refused["message"]) == (400, "the request body is nested more than 100 levels deep")
        big = pod("big")
        big["spec"]["containers"][0]["args"] = ["x" * 1_000_000, "y" * 1_000_000]
        status, refused, _ = await http.call("POST", PODS, big)
        assert status == 413 and refused["message"].startswith('Pod "big" is too large: 2000')
        assert (await http.call("GET", f"{PODS}/big"))[0] == 404  # nothing stored
        plane.api.rest._max_in_flight = 0  # every short request is now over the limit
        status, text, headers = await http.call("GET", PODS)
        assert (status, headers["Retry-After"]) == (429, "1") and b"Too many requests" in text

    run(tmp_path, scenario)


def test_objects_may_come_in_kubernetes_protobuf(tmp_path: Path) -> None:
    body = (Path(__file__).parents[1] / "api" / "testdata" / "kubectl-1.33-create-deployment.pb").read_bytes()

    async def scenario(plane: ControlPlane, http: Http) -> None:
        url = "/apis/apps/v1/namespaces/default/deployments"
        status, created, _ = await http.call(
            "POST", url, body, content_type="application/vnd.kubernetes.protobuf"
        )
        assert status == 201 and (created["metadata"]["name"], created["spec"]["replicas"]) == ("web", 2)
        status, refused, _ = await http.call("POST", "/api/v1/namespaces/default/pods", body,
                                             content_type="application/vnd.kubernetes.protobuf")  # fmt: skip
        assert status == 400 and "does not match the expected API version (v1)" in refused["message"]
        status, _, _ = await http.call(
            "PATCH", f"{url}/web", body, content_type="application/vnd.kubernetes.protobuf"
        )
        assert status == 415  # patches are JSON or YAML

    run(tmp_path, scenario)


RBAC = "rbac.authorization.k8s.io"


def binding(
    name: str, role: str, user: str, *, kind: str = "RoleBinding", role_kind: str = "ClusterRole"
) -> dict:
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": {"name": name},
            "subjects": [{"kind": "User", "apiGroup": RBAC, "name": user}],
            "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role}}  # fmt: skip


def test_rbac_objects_decide_and_nobody_grants_what_they_lack(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        as_nobody = {"token": "nobody-token"}
        assert (await http.call("GET", "/api", **as_nobody))[0] == 200  # discovery: any authenticated user
        status, refused, _ = await http.call("GET", PODS, **as_nobody)
        assert status == 403
        bindings = f"/apis/{RBAC}/v1/namespaces/default/rolebindings"
        assert (await http.call("POST", bindings, binding("nobody-views", "view", "nobody")))[0] == 201
        assert (await http.call("GET", PODS, **as_nobody))[0] == 200  # view in default
        assert (await http.call("GET", "/api/v1/namespaces/kube-system/pods", **as_nobody))[0] == 403
        status, refused, _ = await http.call("POST", PODS, pod("x"), **as_nobody)
        assert (status, refused["reason"]) == (403, "Forbidden")
        assert refused["message"] == ('pods "x" is forbidden: User "nobody" cannot create resource "pods" in API '
                                      'group "" in the namespace "default"')  # fmt: skip

        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}}}  # fmt: skip
        url = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        status, answered, _ = await http.call("POST", url, review, **as_nobody)
        assert status == 201 and answered["status"]["allowed"] is True
        review["spec"]["resourceAttributes"]["verb"] = "delete"
        assert (await http.call("POST", url, review, **as_nobody))[1]["status"].get("allowed", False) is False
        status, me, _ = await http.call(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, **as_nobody
        )
        assert status == 201 and me["status"]["userInfo"]["username"] == "nobody"

        # Escalation: a namespace admin may write Roles, but only with permissions it holds itself.
        assert (await http.call("POST", bindings, binding("nobody-admin", "admin", "nobody")))[0] == 201
        roles = f"/apis/{RBAC}/v1/namespaces/default/roles"
        modest = {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": {"name": "pod-reader"},
                  "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]}  # fmt: skip
        assert (await http.call("POST", roles, modest, **as_nobody))[0] == 201
        greedy = {**modest, "metadata": {"name": "node-admin"},
                  "rules": [{"verbs": ["*"], "apiGroups": [""], "resources": ["nodes"]}]}  # fmt: skip
        status, refused, _ = await http.call("POST", roles, greedy, **as_nobody)
        assert (
            status == 403 and "attempting to grant RBAC permissions not currently held" in refused["message"]
        )
        status, refused, _ = await http.call(
            "POST", bindings, binding("self-promotion", "cluster-admin", "nobody"), **as_nobody)  # fmt: skip
        assert (
            status == 403 and "attempting to bind RBAC permissions not currently held" in refused["message"]
        )
        status, invalid, _ = await http.call("POST", roles, {**modest, "metadata": {"name": "bad"},
                                             "rules": [{"verbs": [], "resources": ["pods"]}]})  # fmt: skip
        assert status == 422 and [c["field"] for c in invalid["details"]["causes"]] == [
            "rules[0].verbs", "rules[0].apiGroups"]  # fmt: skip

    run(tmp_path, scenario)


def test_service_account_tokens_authenticate_until_their_account_or_pod_goes(tmp_path: Path) -> None:
    async def scenario(plane: ControlPlane, http: Http) -> None:
        accounts = "/api/v1/namespaces/default/serviceaccounts"
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}}
        assert (await http.call("POST", accounts, account))[0] == 201
        status, issued, _ = await http.call(
            "POST", f"{accounts}/robot/token", {"spec": {"expirationSeconds": 1200}}
        )
        assert status == 201 and issued["kind"] == "TokenRequest" and issued["status"]["expirationTimestamp"]
        token = issued["status"]["token"]
        status, refused, _ = await http.call("GET", PODS, token=token)
        assert (
            status == 403 and 'User "system:serviceaccount:default:robot" cannot list' in refused["message"]
        )
        robot = {"kind": "ServiceAccount", "name": "robot", "namespace": "default"}
        view = binding("robot-views", "view", "robot")
        view["subjects"] = [robot]
        assert (await http.call("POST", f"/apis/{RBAC}/v1/namespaces/default/rolebindings", view))[0] == 201
        assert (await http.call("GET", PODS, token=token))[0] == 200
        status, me, _ = await http.call(
            "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {}, token=token
        )
        assert set(me["status"]["userInfo"]["groups"]) >= {
            "system:serviceaccounts",
            "system:serviceaccounts:default",
        }
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert (await http.call("GET", PODS, token=forged))[0] == 401

        runner = pod("runner", serviceAccountName="robot")
        assert (await http.call("POST", PODS, runner))[0] == 201
        _, made, _ = await http.call("GET", f"{PODS}/runner")
        bound_request = {
            "spec": {"boundObjectRef": {"kind": "Pod", "name": "runner", "uid": made["metadata"]["uid"]}}
        }
        _, bound, _ = await http.call("POST", f"{accounts}/robot/token", bound_request)
        bound_token = bound["status"]["token"]
        assert (await http.call("GET", PODS, token=bound_token))[0] == 200
        await http.call("POST", accounts, {**account, "metadata": {"name": "other"}})
        status, wrong, _ = await http.call("POST", f"{accounts}/other/token", bound_request)
        assert (status, wrong["message"]) == (400, 'pod "runner" runs as service account "robot"')
        await http.call("DELETE", f"{PODS}/runner?gracePeriodSeconds=0")
        assert (await http.call("GET", PODS, token=bound_token))[0] == 401  # its pod is gone
        await http.call("DELETE", f"{accounts}/robot")
        assert (await http.call("GET", PODS, token=token))[0] == 401  # its account is gone

    run(tmp_path, scenario)


APPLIED = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: main, image: busybox:1.35}]}
"""


def test_server_side_apply_owns_fields_and_conflicts(tmp_path: Path) -> None:
    url = "/apis/apps/v1/namespaces/default/deployments/web"

    async def scenario(plane: ControlPlane, http: Http) -> None:
        async def apply(manager: str | None, replicas: int, force: bool = False) -> tuple[int, Any, Any]:
            query = "&".join(
                [*([f"fieldManager={manager}"] if manager else []), *(["force=true"] if force else [])]
            )
            return await http.call("PATCH", f"{url}?{query}", APPLIED.replace("REPLICAS", str(replicas)),
                                   content_type=patch.APPLY_PATCH)  # fmt: skip

        status, refused, _ = await apply(None, 2)
        assert (status, refused["details"]["causes"][0]["field"]) == (422, "fieldManager")
        status, created, _ = await apply("alice", 2)
        assert status == 201 and created["spec"]["replicas"] == 2, created
        [entry] = created["metadata"]["managedFields"]
        assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("alice", "Apply", "FieldsV1")
        assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}
        status, again, _ = await apply("alice", 2)
        assert (
            status == 200 and again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        )
        status, conflict, _ = await apply("bob", 5)
        assert (status, conflict["reason"]) == (409, "Conflict")
        assert (
            conflict["message"]
            == 'Apply failed with 1 conflict: conflict with "alice" using apps/v1: .spec.replicas'
        )
        status, forced, _ = await apply("bob", 5, force=True)
        assert status == 200 and forced["spec"]["replicas"] == 5
        assert {e["manager"] for e in forced["metadata"]["managedFields"]} == {"alice", "bob"}
        status, scaled, _ = await http.call("PATCH", url, {"spec": {"replicas": 1}}, content_type=patch.MERGE_PATCH,
                                            headers={"User-Agent": "kubectl-scale/v1.33.0 (linux/amd64)"})  # fmt: skip
        assert status == 200 and ("kubectl-scale", "Update") in {
            (e["manager"], e["operation"]) for e in scaled["metadata"]["managedFields"]}  # fmt: skip
        status, conflict, _ = await apply("bob", 5)
        assert status == 409 and 'conflict with "kubectl-scale"' in conflict["message"]

    run(tmp_path, scenario)


def test_dry_runs_answer_as_if_written_and_write_nothing(tmp_path: Path) -> None:
    url = "/apis/apps/v1/namespaces/default/deployments/web"

    async def scenario(plane: ControlPlane, http: Http) -> None:
        assert (await http.call("POST", PODS, pod("web")))[0] == 201
        _, before, _ = await http.call("GET", f"{PODS}/web")
        labels = {"metadata": {"labels": {"tier": "db"}}}
        for method, path, body, content_type in (
            ("PATCH", f"{PODS}/web?dryRun=All", labels, patch.MERGE_PATCH),
            ("PUT", f"{PODS}/web?dryRun=All", {**before, "metadata": {**before["metadata"], "labels": {"x": "y"}}},
             "application/json"),
        ):  # fmt: skip
            status, answer, _ = await http.call(method, path, body, content_type=content_type)
            assert status == 200 and answer["metadata"]["labels"] != before["metadata"]["labels"], answer
        status, answer, _ = await http.call("DELETE", f"{PODS}/web?dryRun=All")
        assert status == 200 and answer["metadata"]["name"] == "web"
        status, answer, _ = await http.call(
            "DELETE", f"{PODS}/web", {"dryRun": ["All"], "gracePeriodSeconds": 0}
        )
        assert status == 200
        assert (await http.call("DELETE", PODS + "?dryRun=All"))[0] == 200
        status, applied, _ = await http.call("PATCH", f"{url}?fieldManager=me&dryRun=All",
                                             APPLIED.replace("REPLICAS", "2"), content_type=patch.APPLY_PATCH)  # fmt: skip
        assert status == 201 and applied["spec"]["replicas"] == 2
        assert (await http.call("GET", url))[0] == 404  # the apply created nothing
        _, after, _ = await http.call("GET", f"{PODS}/web")
        assert after == before  # not relabelled, not replaced, not deleted: the same resourceVersion
        status, bad, _ = await http.call(
            "PATCH", f"{PODS}/web?dryRun=Some", labels, content_type=patch.MERGE_PATCH
        )
        assert (status, bad["message"]) == (400, "dryRun must be \"All\", got ['Some']")

    run(tmp_path, scenario)
