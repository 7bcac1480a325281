"""Validation and defaulting rules, table-driven: each bad pod names the field and the problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cluster.api import codec
from cluster.apiserver import defaults, validation
from raykube.v1 import node_pb2, pod_pb2

GOOD = {
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {"containers": [{"name": "c", "image": "busybox:1.35"}]},
}


def spread(**fields: object) -> dict:
    """A topology spread constraint in manifest form: one per zone by default."""
    return {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}, **fields}  # fmt: skip


def make(mutate: Callable[[dict], None]) -> pod_pb2.Pod:
    doc = codec.encode(codec.decode(GOOD, pod_pb2.Pod))
    mutate(doc)
    pod = codec.decode(doc, pod_pb2.Pod)
    defaults.default_pod(pod)
    return pod


def container(doc: dict) -> dict:
    first: dict = doc["spec"]["containers"][0]
    return first


CASES: list[tuple[str, Callable[[dict], None], str, str]] = [
    ("no name", lambda d: d["metadata"].pop("name"), "metadata.name", "Required value"),
    ("upper-case name", lambda d: d["metadata"].update(name="Web"), "metadata.name", "RFC 1123 subdomain"),
    ("long namespace", lambda d: d["metadata"].update(namespace="n" * 64), "metadata.namespace",
     "no more than 63 characters"),
    ("bad label key", lambda d: d["metadata"].update(labels={"-x": "1"}), "metadata.labels", "name part"),
    ("bad label value", lambda d: d["metadata"].update(labels={"x": "a b"}), "metadata.labels[x]", "valid label"),
    ("no containers", lambda d: d["spec"].update(containers=[]), "spec.containers", "Required value"),
    ("no image", lambda d: container(d).pop("image"), "spec.containers[0].image", "Required value"),
    ("bad container name", lambda d: container(d).update(name="C_1"), "spec.containers[0].name", "RFC 1123 label"),
    ("duplicate container", lambda d: d["spec"]["containers"].append(dict(container(d))), "spec.containers[1].name",
     'Duplicate value: "c"'),
    ("pull policy", lambda d: container(d).update(imagePullPolicy="Sometimes"), "spec.containers[0].imagePullPolicy",
     'Unsupported value: "Sometimes"'),
    ("port 0", lambda d: container(d).update(ports=[{"containerPort": 0}]), "spec.containers[0].ports[0].containerPort",
     "between 1 and 65535"),
    ("port protocol", lambda d: container(d).update(ports=[{"containerPort": 80, "protocol": "ICMP"}]),
     "spec.containers[0].ports[0].protocol", "supported values"),
    ("env name", lambda d: container(d).update(env=[{"name": "1X=", "value": "v"}]), "spec.containers[0].env[0].name",
     "environment variable name"),
    ("bad quantity", lambda d: container(d).update(resources={"requests": {"memory": "a lot"}}),
     "spec.containers[0].resources.requests[memory]", "quantities must match"),
    ("negative quantity", lambda d: container(d).update(resources={"requests": {"cpu": "-1"}}),
     "spec.containers[0].resources.requests[cpu]", "greater than or equal to 0"),
    ("unknown resource", lambda d: container(d).update(resources={"requests": {"gpu": "1"}}),
     "spec.containers[0].resources.requests[gpu]", "standard resource type"),
    ("request above limit", lambda d: container(d).update(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}),
     "spec.containers[0].resources.requests", "less than or equal to cpu limit of 1"),
    ("restart policy", lambda d: d["spec"].update(restartPolicy="Sometimes"), "spec.restartPolicy", "Unsupported"),
    ("negative grace", lambda d: d["spec"].update(terminationGracePeriodSeconds=-1),
     "spec.terminationGracePeriodSeconds", "greater than or equal to 0"),
    ("toleration effect", lambda d: d["spec"].update(tolerations=[{"key": "k", "effect": "Sometimes"}]),
     "spec.tolerations[0].effect", "Unsupported"),
    ("exists with value", lambda d: d["spec"].update(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
     "spec.tolerations[0].operator", "value must be empty"),
    ("affinity operator", lambda d: d["spec"].update(affinity={"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "k", "operator": "Near", "values": ["x"]}]}]}}}),
     "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
     ".matchExpressions[0].operator", "Unsupported"),
    ("pod anti-affinity topology", lambda d: d["spec"].update(affinity={"podAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{"labelSelector": {"matchLabels": {"a": "b"}}}]}}),
     "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey", "Required"),
    ("spread skew", lambda d: d["spec"].update(topologySpreadConstraints=[spread(maxSkew=0)]),
     "spec.topologySpreadConstraints[0].maxSkew", "must be greater than zero"),
    ("spread key", lambda d: d["spec"].update(topologySpreadConstraints=[spread(topologyKey="")]),
     "spec.topologySpreadConstraints[0].topologyKey", "Required"),
    ("spread action", lambda d: d["spec"].update(topologySpreadConstraints=[spread(whenUnsatisfiable="Never")]),
     "spec.topologySpreadConstraints[0].whenUnsatisfiable", 'Unsupported value: "Never"'),
    ("spread twice", lambda d: d["spec"].update(topologySpreadConstraints=[spread(), spread(maxSkew=2)]),
     "spec.topologySpreadConstraints[1]", "Duplicate value"),
    ("spread min domains", lambda d: d["spec"].update(topologySpreadConstraints=[
        spread(minDomains=2, whenUnsatisfiable="ScheduleAnyway")]),
     "spec.topologySpreadConstraints[0].minDomains", "whenUnsatisfiable=DoNotSchedule"),
    ("spread policy", lambda d: d["spec"].update(topologySpreadConstraints=[spread(nodeTaintsPolicy="Always")]),
     "spec.topologySpreadConstraints[0].nodeTaintsPolicy", 'supported values: "Honor", "Ignore"'),
    ("probe without handler", lambda d: container(d).update(livenessProbe={"periodSeconds": 5}),
     "spec.containers[0].livenessProbe", "handler"),
    ("probe port", lambda d: container(d).update(readinessProbe={"tcpSocket": {"port": 70000}}),
     "spec.containers[0].readinessProbe.tcpSocket.port", "between 1 and 65535"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "mutate", "field", "message"), CASES, ids=[c[0] for c in CASES])
def test_invalid_pods(case: str, mutate: Callable[[dict], None], field: str, message: str) -> None:
    errors = validation.pod(make(mutate))
    assert [e.field for e in errors] == [field], errors
    assert message in errors[0].message


def test_a_good_pod_has_no_errors() -> None:
    assert validation.pod(make(lambda d: None)) == []
    both = [
        spread(),
        spread(whenUnsatisfiable="ScheduleAnyway", nodeAffinityPolicy="Ignore", matchLabelKeys=["x"]),
    ]
    assert validation.pod(make(lambda d: d["spec"].update(topologySpreadConstraints=both))) == []


@pytest.mark.parametrize(
    ("image", "policy"),
    [("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.25", "IfNotPresent"),
     ("127.0.0.1:5000/busybox", "Always"), ("127.0.0.1:5000/busybox:1.35", "IfNotPresent"),
     ("busybox@sha256:abcd", "IfNotPresent")],
)  # fmt: skip
def test_default_pull_policy(image: str, policy: str) -> None:
    assert defaults.default_pull_policy(image) == policy


def test_defaults() -> None:
    pod = make(
        lambda d: container(d).update(
            resources={"limits": {"cpu": "1", "memory": "1Gi"}},
            ports=[{"containerPort": 80}],
            livenessProbe={"httpGet": {"port": 80}},
        )
    )
    c = pod.spec.containers[0]
    assert dict(c.resources.requests) == {"cpu": "1", "memory": "1Gi"}  # a limit alone implies the request
    assert c.ports[0].protocol == "TCP"
    probe = c.liveness_probe
    assert (probe.timeout_seconds, probe.period_seconds, probe.failure_threshold) == (1, 10, 3)
    assert (probe.http_get.path, probe.http_get.scheme) == ("/", "HTTP")
    assert defaults.qos_class(pod) == "Guaranteed"
    assert defaults.qos_class(make(lambda d: None)) == "BestEffort"
    assert (
        defaults.qos_class(make(lambda d: container(d).update(resources={"requests": {"cpu": "1"}})))
        == "Burstable"
    )


def test_node_validation() -> None:
    node = codec.decode({"metadata": {"name": "n1"}, "spec": {"taints": [{"key": "k", "effect": "Bogus"}]},
                         "status": {"capacity": {"cpu": "two"}}}, node_pb2.Node)  # fmt: skip
    assert [e.field for e in validation.node(node)] == ["spec.taints[0].effect", "status.capacity[cpu]"]
