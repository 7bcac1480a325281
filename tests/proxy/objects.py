"""Services and EndpointSlices as the API serves them, for proxy tests."""

from __future__ import annotations

from agents.proxy.ruleset import SERVICE_NAME_LABEL
from raykube.v1 import discovery_pb2, service_pb2


def service(
    name: str, cluster_ip: str, *ports: tuple[str, int, int], protocol: str = "TCP", affinity: int = 0
) -> service_pb2.Service:
    """A Service with (port name, port, nodePort or 0) ports; ClientIP affinity for `affinity` seconds."""
    made = service_pb2.Service(api_version="v1", kind="Service")
    made.metadata.name, made.metadata.namespace = name, "default"
    made.spec.cluster_ip = cluster_ip
    for port_name, port, node_port in ports:
        made.spec.ports.add(
            name=port_name, protocol=protocol, port=port, target_port="8080", node_port=node_port
        )
    if affinity:
        made.spec.session_affinity = "ClientIP"
        made.spec.session_affinity_config.client_ip.timeout_seconds = affinity
    return made


def endpoint_slice(
    service_name: str, port_name: str, port: int, ready: list[str], not_ready: tuple[str, ...] = (),
    protocol: str = "TCP", suffix: str = "1",
) -> discovery_pb2.EndpointSlice:  # fmt: skip
    made = discovery_pb2.EndpointSlice(
        api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type="IPv4"
    )
    made.metadata.name, made.metadata.namespace = f"{service_name}-{suffix}", "default"
    made.metadata.labels[SERVICE_NAME_LABEL] = service_name
    made.ports.add(name=port_name, port=port, protocol=protocol)
    for address in ready:
        made.endpoints.add(addresses=[address]).conditions.ready = True
    for address in not_ready:
        made.endpoints.add(addresses=[address]).conditions.ready = False
    return made
