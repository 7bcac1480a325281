"""What `raykube get` prints: kubectl's ages, STATUS rules, tables and JSONPath."""

from __future__ import annotations

from typing import Any

import pytest

from cluster.api import codec, resources, tables
from cluster.cli import describe, jsonpath, printers
from cluster.cli.rollout import rollout_message
from raykube.v1 import apps_pb2, discovery_pb2, event_pb2, pod_pb2, service_pb2


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (119, "119s"), (125, "2m5s"), (180, "3m"), (601, "10m"), (3 * 3600 + 60, "3h1m"),
     (9 * 3600, "9h"), (50 * 3600, "2d2h"), (30 * 86400, "30d"), (3 * 365 * 86400, "3y")],
)  # fmt: skip
def test_human_duration(seconds: int, text: str) -> None:
    assert tables.human_duration(seconds) == text


def pod(status: dict, deleting: bool = False) -> pod_pb2.Pod:
    doc: dict[str, Any] = {"metadata": {"name": "p", "creationTimestamp": "2026-11-25T00:00:00Z"},
           "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "n1"}, "status": status}  # fmt: skip
    if deleting:
        doc["metadata"]["deletionTimestamp"] = "2026-11-25T00:01:00Z"
    return codec.decode(doc, pod_pb2.Pod)


RUNNING = {"running": {"startedAt": "2026-11-25T00:00:01Z"}}


@pytest.mark.parametrize(
    ("status", "deleting", "text"),
    [
        ({"phase": "Pending"}, False, "Pending"),
        ({"phase": "Pending", "containerStatuses": [{"name": "a", "state": {"waiting": {"reason": "ErrImagePull"}}}]},
         False, "ErrImagePull"),
        ({"phase": "Running", "containerStatuses": [{"name": "a", "ready": True, "state": RUNNING},
                                                    {"name": "b", "ready": True, "state": RUNNING}]}, False, "Running"),
        ({"phase": "Running", "containerStatuses": [
            {"name": "a", "state": {"waiting": {"reason": "CrashLoopBackOff"}}, "restartCount": 3}]}, False,
         "CrashLoopBackOff"),
        ({"phase": "Succeeded", "containerStatuses": [{"name": "a", "state": {"terminated": {"reason": "Completed"}}}]},
         False, "Completed"),
        ({"phase": "Failed", "containerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 3}}}]}, False,
         "ExitCode:3"),
        ({"phase": "Running", "containerStatuses": [{"name": "a", "ready": True, "state": RUNNING}]}, True,
         "Terminating"),
    ],
)  # fmt: skip
def test_pod_status_column(status: dict, deleting: bool, text: str) -> None:
    assert tables.pod_status_text(pod(status, deleting)) == text


def test_pod_table_wide() -> None:
    running = pod(
        {
            "phase": "Running",
            "podIP": "10.88.0.7",
            "containerStatuses": [
                {"name": "a", "ready": True, "state": RUNNING, "restartCount": 1},
                {"name": "b", "state": RUNNING},
            ],
        }
    )
    now = running.metadata.creation_timestamp.seconds + 65
    text = printers.render(resources.PODS, [running], "wide", now)
    assert text.splitlines() == [
        "NAME   READY   STATUS    RESTARTS   AGE   IP          NODE   NOMINATED NODE   READINESS GATES",
        "p      1/2     Running   1          65s   10.88.0.7   n1     <none>           <none>",
    ]


def test_output_formats() -> None:
    p = pod({"phase": "Pending", "podIP": "10.88.0.7"})
    assert printers.render(resources.PODS, [p], "name", 0) == "pod/p"
    assert printers.render(resources.PODS, [p], "jsonpath={.status.podIP}", 0, single=True) == "10.88.0.7"
    assert printers.render(resources.PODS, [p, p], "jsonpath={.items[*].metadata.name}", 0) == "p p"
    assert '"kind": "List"' in printers.render(resources.PODS, [p], "json", 0)
    assert printers.render(resources.PODS, [p], "yaml", 0, single=True).startswith("metadata:\n  name: p")
    with pytest.raises(ValueError, match="allowed formats"):
        printers.render(resources.PODS, [p], "xml", 0)


def test_jsonpath() -> None:
    data = {"items": [{"a": {"b": 1}}, {"a": {"b": 2}}], "s": "text"}
    assert jsonpath.render("{.items[*].a.b}", data) == "1 2"
    assert jsonpath.render("ip={.items[-1].a.b}!", data) == "ip=2!"
    assert jsonpath.render("{.s}", data) == "text"
    assert jsonpath.render("{.missing}", data) == ""
    with pytest.raises(jsonpath.JsonPathError):
        jsonpath.render("{.items[?(@.a)]}", data)


def test_workload_tables_and_names() -> None:
    d = codec.decode({"metadata": {"name": "web", "creationTimestamp": "2026-11-25T00:00:00Z"},
                      "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                               "template": {"spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]}}},
                      "status": {"replicas": 4, "updatedReplicas": 2, "readyReplicas": 3, "availableReplicas": 3}},
                     apps_pb2.Deployment)  # fmt: skip
    now = d.metadata.creation_timestamp.seconds + 120
    assert printers.render(resources.DEPLOYMENTS, [d], "wide", now).splitlines() == [
        "NAME   READY   UP-TO-DATE   AVAILABLE   AGE   CONTAINERS   IMAGES         SELECTOR",
        "web    3/3     2            3           2m    c            busybox:1.35   app=web",
    ]
    assert (
        printers.render(resources.DEPLOYMENTS, [d], "", now, kind_in_name=True)
        .splitlines()[1]
        .startswith("deployment.apps/web   3/3")
    )
    assert printers.render(resources.DEPLOYMENTS, [d], "name", now) == "deployment.apps/web"
    event = codec.decode({"metadata": {"name": "e"}, "type": "Warning", "reason": "BackOff",
                          "involvedObject": {"kind": "Pod", "name": "web-1"}, "message": "Back-off restarting",
                          "lastTimestamp": "2026-11-25T00:00:00Z"}, event_pb2.Event)  # fmt: skip
    assert printers.render(resources.EVENTS, [event], "", now).splitlines()[1].split(None, 4) == [
        "2m",
        "Warning",
        "BackOff",
        "pod/web-1",
        "Back-off restarting",
    ]


def test_service_tables_show_ports_and_endpoints_like_kubectl() -> None:
    svc = codec.decode({"metadata": {"name": "web", "creationTimestamp": "2026-11-25T00:00:00Z"},
                        "spec": {"type": "NodePort", "clusterIP": "10.96.5.5", "selector": {"app": "web"},
                                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                           {"port": 53, "protocol": "UDP"}]}}, service_pb2.Service)  # fmt: skip
    now = svc.metadata.creation_timestamp.seconds + 120
    assert printers.render(resources.SERVICES, [svc], "wide", now).splitlines() == [
        "NAME   TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)               AGE   SELECTOR",
        "web    NodePort   10.96.5.5    <none>        80:30080/TCP,53/UDP   2m    app=web",
    ]
    endpoints = codec.decode({"metadata": {"name": "web"}, "subsets": [
        {"addresses": [{"ip": f"10.88.0.{i}"} for i in range(1, 6)], "ports": [{"port": 8080}]}]},
        service_pb2.Endpoints)  # fmt: skip
    assert (
        printers.render(resources.ENDPOINTS, [endpoints], "", now)
        .splitlines()[1]
        .split(None, 1)[1]
        .startswith("10.88.0.1:8080,10.88.0.2:8080,10.88.0.3:8080 + 2 more...")
    )
    empty = codec.decode({"metadata": {"name": "web-1"}, "addressType": "IPv4", "ports": [{"port": 8080}]},
                         discovery_pb2.EndpointSlice)  # fmt: skip
    assert printers.render(resources.ENDPOINTSLICES, [empty], "", now).splitlines()[1].split()[:4] == [
        "web-1", "IPv4", "8080", "<none>"
    ]  # fmt: skip


def test_the_events_section_counts_repeats_like_kubectl() -> None:
    event = codec.decode({"type": "Normal", "reason": "Pulled", "count": 3, "message": "present",
                          "source": {"component": "kubelet"}, "firstTimestamp": "2026-11-25T00:00:00Z",
                          "lastTimestamp": "2026-11-25T00:02:00Z"}, event_pb2.Event)  # fmt: skip
    now = event.last_timestamp.seconds + 10
    assert describe.events_section([event], now).splitlines() == [
        "Events:",
        "  Type    Reason  Age                  From     Message",
        "  ----    ------  ----                 ----     -------",
        "  Normal  Pulled  10s (x3 over 2m10s)  kubelet  present",
    ]
    assert describe.events_section([], now) == "Events:  <none>"


@pytest.mark.parametrize(
    ("generation", "status", "expected"),
    [
        (2, {"observedGeneration": 1}, "Waiting for deployment spec update to be observed..."),
        (1, {"observedGeneration": 1, "updatedReplicas": 1, "replicas": 3},
         'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...'),
        (1, {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 4},
         'Waiting for deployment "web" rollout to finish: 1 old replicas are pending termination...'),
        (1, {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
         'Waiting for deployment "web" rollout to finish: 2 of 3 updated replicas are available...'),
        (1, {"observedGeneration": 1, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3},
         'deployment "web" successfully rolled out'),
    ],
)  # fmt: skip
def test_rollout_status_says_what_kubectl_says(generation: int, status: dict, expected: str) -> None:
    d = codec.decode({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": 3}, "status": status},
                     apps_pb2.Deployment)  # fmt: skip
    message, done = rollout_message(d)
    assert message == expected and done == expected.endswith("rolled out")


def test_every_kind_has_kubectls_columns() -> None:
    assert set(tables.TABLES) == {r.name for r in resources.ALL}
