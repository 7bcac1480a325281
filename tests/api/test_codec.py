"""The manifest codec: strict decoding with Kubernetes paths, and kubectl-shaped encoding."""

from __future__ import annotations

import pytest

from cluster.api import codec
from raykube.v1 import node_pb2, pod_pb2

FULL_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}, "generation": 3},
    "spec": {
        "containers": [
            {
                "name": "c",
                "image": "nginx:1.25",
                "command": ["sh", "-c"],
                "args": ["echo hi"],
                "env": [{"name": "A", "value": "1"}],
                "ports": [{"containerPort": 80, "hostIP": "127.0.0.1"}],
                "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
                "livenessProbe": {"httpGet": {"path": "/", "port": 80}},
                "readinessProbe": {"tcpSocket": {"port": "http"}},
            }
        ],
        "restartPolicy": "Never",
        "terminationGracePeriodSeconds": 0,
        "nodeSelector": {"disk": "ssd"},
    },
    "status": {
        "phase": "Running",
        "podIP": "10.88.0.2",
        "startTime": "2026-11-25T15:37:16Z",
        "containerStatuses": [
            {
                "name": "c",
                "state": {"running": {}},
                "ready": True,
                "restartCount": 2,
                "image": "busybox",
                "imageID": "sha256:0a1b",
            }
        ],
    },
}


def test_round_trip_keeps_every_field_as_written() -> None:
    pod = codec.decode(FULL_POD, pod_pb2.Pod)
    assert pod.spec.containers[0].ports[0].host_ip == "127.0.0.1"
    assert pod.status.start_time.seconds == 1795621036
    assert codec.encode(pod) == FULL_POD


def test_presence_is_kept_for_optional_scalars_and_empty_messages() -> None:
    pod = codec.decode(FULL_POD, pod_pb2.Pod)
    assert pod.spec.HasField("termination_grace_period_seconds")  # an explicit 0 is not "unset"
    assert pod.status.container_statuses[0].state.HasField("running")  # `running: {}` means running
    assert not pod.status.container_statuses[0].state.HasField("waiting")


def test_numbers_accepted_where_kubernetes_accepts_them() -> None:
    pod = codec.decode(
        {"spec": {"containers": [{"resources": {"limits": {"cpu": 2, "memory": 1.5e9}},
                                  "livenessProbe": {"tcpSocket": {"port": 8080}}}]}},
        pod_pb2.Pod,
    )  # fmt: skip
    container = pod.spec.containers[0]
    assert dict(container.resources.limits) == {"cpu": "2", "memory": "1.5e+09"}
    assert container.liveness_probe.tcp_socket.port == "8080"
    assert codec.encode(container.liveness_probe) == {"tcpSocket": {"port": 8080}}  # written back as a number


def test_int64_is_encoded_as_a_json_number() -> None:
    meta = codec.decode({"generation": 7}, pod_pb2.Pod().metadata.__class__)
    assert codec.encode(meta) == {"generation": 7}


def test_null_leaves_a_field_unset() -> None:
    pod = codec.decode({"spec": {"nodeName": None, "containers": None}}, pod_pb2.Pod)
    assert pod.spec.node_name == "" and not pod.spec.containers


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ({"spec": {"containers": [{"imagee": "x"}]}}, "spec.containers[0].imagee", 'unknown field "imagee"'),
        # proto field names are not JSON names
        ({"spec": {"node_name": "n"}}, "spec.node_name", 'unknown field "node_name"'),
        ({"metadata": {"name": 3}}, "metadata.name", "expected a string, got integer 3"),
        ({"spec": {"containers": [{"ports": [{"containerPort": "80"}]}]}},
         "spec.containers[0].ports[0].containerPort", 'expected an integer, got string "80"'),
        ({"spec": {"containers": {"name": "c"}}}, "spec.containers", "expected an array, got object"),
        ({"spec": {"hostNetwork": "yes"}}, "spec.hostNetwork", 'expected a boolean, got string "yes"'),
        ({"metadata": {"labels": {"a": 1}}}, "metadata.labels[a]", "expected a string, got integer 1"),
        ({"spec": {"containers": [{"ports": [{"containerPort": 2**40}]}]}},
         "spec.containers[0].ports[0].containerPort", "out of range"),
        ({"status": {"startTime": "yesterday"}}, "status.startTime", "invalid RFC 3339 time"),
        ({"spec": "x"}, "spec", "expected an object"),
    ],
)  # fmt: skip
def test_every_bad_field_is_reported_with_its_path(document: dict, path: str, message: str) -> None:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode(document, pod_pb2.Pod)
    [error] = caught.value.errors
    assert error.field == path
    assert message in error.message


def test_all_errors_are_reported_at_once() -> None:
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode({"kindd": "Pod", "spec": {"containers": [{"name": 1, "foo": 2}]}}, pod_pb2.Pod)
    assert [e.field for e in caught.value.errors] == [
        "kindd",
        "spec.containers[0].name",
        "spec.containers[0].foo",
    ]


def test_json_names_that_differ_from_camel_case() -> None:
    node = codec.decode(
        {
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}},
        },
        node_pb2.Node,
    )
    assert node.spec.pod_cidr == "10.0.0.0/24"
    assert node.status.daemon_endpoints.kubelet_endpoint.port == 10250
    with pytest.raises(codec.DecodeError):
        codec.decode({"spec": {"podCidr": "10.0.0.0/24"}}, node_pb2.Node)


def test_fields_kubernetes_always_writes_are_written_at_zero() -> None:
    status = codec.decode({"name": "c", "state": {"terminated": {"exitCode": 0}}}, pod_pb2.ContainerStatus)
    assert codec.encode(status) == {
        "name": "c",
        "state": {"terminated": {"exitCode": 0}},
        "ready": False,
        "restartCount": 0,
        "image": "",
        "imageID": "",
    }
