"""NodePorts: a hostPort is taken per node and protocol; it is free again when its pod goes."""

from cluster.scheduler.framework import Code, CycleState, PodInfo
from cluster.scheduler.plugins.nodeports import NodePorts
from raykube.v1 import pod_pb2

from .builders import node, node_info, pod


def publishing(name: str, *ports: tuple[int, str]) -> pod_pb2.Pod:
    obj = pod(name)
    for number, protocol in ports:
        obj.spec.containers[0].ports.add(container_port=80, host_port=number, protocol=protocol)
    return obj


def test_a_host_port_in_use_on_a_node_keeps_the_pod_off_that_node_only() -> None:
    web = publishing("web", (8080, "TCP"))
    busy, free = node_info(node("busy"), web), node_info(node("free"))
    plugin, state = NodePorts(), CycleState()
    incoming = PodInfo(publishing("p", (9090, "TCP"), (8080, "TCP")))
    assert plugin.pre_filter(state, incoming, [busy, free]).ok
    assert plugin.filter(state, incoming, busy).reasons == (
        "node(s) didn't have free ports for the requested pod ports",
    )
    assert plugin.filter(state, incoming, free).ok
    assert plugin.filter(state, PodInfo(publishing("dns", (8080, "UDP"))), busy).ok  # another protocol
    busy.remove_pod(PodInfo(web).key)
    assert plugin.filter(state, incoming, busy).ok and not busy.used_ports


def test_pods_without_host_ports_skip_it() -> None:
    assert NodePorts().pre_filter(CycleState(), PodInfo(publishing("p")), []).code is Code.SKIP
