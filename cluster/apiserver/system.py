"""The objects every cluster has, made by the API server when it starts (kube-apiserver's bootstrap).

- the namespaces default, kube-system, kube-public and kube-node-lease;
- the `kubernetes` Service in default (the range's first ClusterIP, port 443) with Endpoints and an
  EndpointSlice pointing at every API server of the cluster (the list `up` planned, as
  kube-apiserver's master-count reconciler keeps it; a server whose host is lost stays listed);
- the `kube-dns` Service in kube-system (the range's tenth ClusterIP, port 53 UDP and TCP): no pods
  behind it; each host's proxy answers it with its own DNS responder;
- the bootstrap ClusterRoles and ClusterRoleBindings (rbac/bootstrap.py); a role that exists gets
  the rules a newer raykube added to it (reconciled, as kube-apiserver does);
- the PriorityClasses system-cluster-critical and system-node-critical.
Existing objects are kept (a restarted API server changes nothing else); the `kubernetes` endpoints
follow the API servers' addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Sequence

from cluster.api import resources, wellknown
from cluster.api.resources import T
from cluster.apiserver.priority import system_priority_classes
from cluster.apiserver.rbac import bootstrap
from cluster.apiserver.registry import Registry
from cluster.errors import AlreadyExists
from raykube.v1 import discovery_pb2, namespace_pb2, rbac_pb2, service_pb2

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"


async def ensure_system_objects(registry: Registry, api_hosts: Sequence[str], api_port: int) -> None:
    for name in wellknown.SYSTEM_NAMESPACES:
        namespace = namespace_pb2.Namespace()
        namespace.metadata.name = name
        with contextlib.suppress(AlreadyExists):
            await registry.create(namespace)
    network = registry.network
    kubernetes = service_pb2.Service()
    kubernetes.metadata.name, kubernetes.metadata.namespace = "kubernetes", wellknown.NAMESPACE_DEFAULT
    kubernetes.metadata.labels.update({"component": "apiserver", "provider": "kubernetes"})
    kubernetes.spec.cluster_ip = network.kubernetes_ip
    kubernetes.spec.ports.add(name="https", port=443, target_port=str(api_port), protocol="TCP")
    dns = service_pb2.Service()
    dns.metadata.name, dns.metadata.namespace = "kube-dns", wellknown.NAMESPACE_SYSTEM
    dns.metadata.labels["k8s-app"] = "kube-dns"
    dns.spec.cluster_ip = network.dns_ip
    dns.spec.ports.add(name="dns", port=53, protocol="UDP")
    dns.spec.ports.add(name="dns-tcp", port=53, protocol="TCP")
    for service in (kubernetes, dns):
        with contextlib.suppress(AlreadyExists):
            await registry.create(service)
    for priority_class in system_priority_classes():
        with contextlib.suppress(AlreadyExists):
            await registry.create(priority_class)
    for role in bootstrap.cluster_roles():
        await _reconcile_role(registry, role)
    for binding in bootstrap.cluster_role_bindings():
        with contextlib.suppress(AlreadyExists):
            await registry.create(binding)
    ips = [host for host in api_hosts if _is_ipv4(host)]
    if ips:
        await _point_kubernetes_at(registry, ips, api_port)


async def _reconcile_role(registry: Registry, wanted: rbac_pb2.ClusterRole) -> None:
    """Create a bootstrap ClusterRole, or add the rules a newer raykube gives it to the stored one
    (as kube-apiserver's RBAC reconciliation does; rules an admin added stay, and a role annotated
    rbac.authorization.kubernetes.io/autoupdate: "false" is left as it is)."""
    try:
        await registry.create(wanted)
        return
    except AlreadyExists:
        pass
    current = await registry.get(resources.CLUSTERROLES, "", wanted.metadata.name)
    if current.metadata.annotations.get(AUTOUPDATE) == "false":
        return
    missing = [rule for rule in wanted.rules if rule not in current.rules]
    if missing:
        current.rules.extend(missing)
        await registry.update(current)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ipaddress.AddressValueError:
        return False
    return True


async def _point_kubernetes_at(registry: Registry, ips: list[str], port: int) -> None:
    endpoints = service_pb2.Endpoints()
    endpoints.metadata.name, endpoints.metadata.namespace = "kubernetes", wellknown.NAMESPACE_DEFAULT
    subset = endpoints.subsets.add()
    for ip in ips:
        subset.addresses.add(ip=ip)
    subset.ports.add(name="https", port=port, protocol="TCP")
    slice_ = discovery_pb2.EndpointSlice(address_type="IPv4")
    slice_.metadata.name, slice_.metadata.namespace = "kubernetes", wellknown.NAMESPACE_DEFAULT
    slice_.metadata.labels.update({SERVICE_NAME_LABEL: "kubernetes", MANAGED_BY_LABEL: "raykube-apiserver"})
    for ip in ips:
        slice_.endpoints.add(addresses=[ip]).conditions.ready = True
    slice_.ports.add(name="https", port=port, protocol="TCP")
    await _create_or_replace(registry, endpoints)
    await _create_or_replace(registry, slice_)


async def _create_or_replace(registry: Registry, obj: T) -> None:
    fresh = type(obj)()
    fresh.CopyFrom(obj)  # create fills in the uid and the like: keep `obj` bare for the update
    try:
        await registry.create(fresh)
    except AlreadyExists:
        await registry.update(obj)  # no resourceVersion: whatever is there, the planned addresses now
