"""Kubernetes' protobuf request bodies, as kubectl 1.33 sends them (captured from the real client:
`kubectl create deployment web --image=localhost/busybox:1.35 --replicas=2 --port=8080`,
`kubectl create service nodeport web --tcp=80:8080`, `kubectl create namespace shop`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.api import codec, kubeproto
from cluster.errors import BadRequest
from raykube.v1 import apps_pb2, namespace_pb2, service_pb2

TESTDATA = Path(__file__).parent / "testdata"


def decoded(name: str, cls: type) -> tuple[str, str, object]:
    api_version, kind, raw = kubeproto.decode_envelope((TESTDATA / f"kubectl-1.33-{name}.pb").read_bytes())
    return api_version, kind, codec.decode(kubeproto.to_json(raw, cls.DESCRIPTOR), cls)


def test_a_deployment_from_kubectl_create() -> None:
    api_version, kind, deployment = decoded("create-deployment", apps_pb2.Deployment)
    assert (api_version, kind) == ("apps/v1", "Deployment")
    assert isinstance(deployment, apps_pb2.Deployment)
    assert deployment.metadata.name == "web" and dict(deployment.metadata.labels) == {"app": "web"}
    assert not deployment.metadata.HasField("creation_timestamp")  # a zero Time is an empty message: null
    spec = deployment.spec
    assert spec.replicas == 2 and dict(spec.selector.match_labels) == {"app": "web"}
    [container] = spec.template.spec.containers
    assert (container.name, container.image, [p.container_port for p in container.ports]) == (
        "busybox", "localhost/busybox:1.35", [8080])  # fmt: skip


def test_a_service_with_an_int_or_string_target_port() -> None:
    _, kind, service = decoded("create-service-nodeport", service_pb2.Service)
    assert kind == "Service" and isinstance(service, service_pb2.Service)
    assert service.spec.type == "NodePort" and dict(service.spec.selector) == {"app": "web"}
    [port] = service.spec.ports
    assert (port.name, port.port, port.target_port, port.protocol) == ("80-8080", 80, "8080", "TCP")


def test_a_namespace() -> None:
    _, kind, namespace = decoded("create-namespace", namespace_pb2.Namespace)
    assert kind == "Namespace" and isinstance(namespace, namespace_pb2.Namespace)
    assert namespace.metadata.name == "shop"


@pytest.mark.parametrize("body", [b"", b"{}", b"k8s\x00\x0a\xff", b"k8s\x00\x12\x05ab"])
def test_what_is_not_a_kubernetes_protobuf_body_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        kubeproto.decode_envelope(body)


def test_every_kind_has_its_kubernetes_field_numbers() -> None:
    from cluster.api import resources

    for resource in resources.ALL:
        numbers = kubeproto.FIELD_NUMBERS[resource.message.DESCRIPTOR.name]
        fields = {f.json_name for f in resource.message.DESCRIPTOR.fields} - {"apiVersion", "kind"}
        assert fields <= set(numbers), resource.kind
