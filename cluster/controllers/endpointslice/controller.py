"""The EndpointSlice controller: a Service's selected pods as EndpointSlices (and one Endpoints).

sync(namespace/name) of a Service with a selector:
  - every pod of the namespace the selector matches, with an IP and not finished, is an endpoint:
    ready when its Ready condition is True and it is not terminating (readiness probes decide),
    serving when Ready, terminating when it has a deletionTimestamp;
  - each Service port's targetPort is resolved per pod: a number as it is, a name through the
    pod's container ports (a pod without that port is left out of that port's slices);
  - pods that resolve to the same ports share slices of at most 100 endpoints, named
    `<service>-<n>`, labelled kubernetes.io/service-name and endpointslice.kubernetes.io/managed-by,
    controlled by the Service (so the garbage collector removes them with it); existing slices
    are updated in place, missing ones created, surplus ones deleted;
  - the core/v1 Endpoints of the same name mirror them (kubectl and `describe service` read it).
Services without a selector (kubernetes, kube-dns) are left alone: their endpoints are set by hand.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from cluster.api import conditions, resources
from cluster.api import labels as label_selectors
from cluster.api import pods as podutil
from cluster.client.api import ApiClient
from cluster.controllers.controller import Controller, key_of, split_key
from cluster.controllers.informers import SharedInformers
from cluster.controllers.owners import controller_reference
from cluster.errors import AlreadyExists, NotFound
from raykube.v1 import discovery_pb2, event_pb2, pod_pb2, service_pb2

log = logging.getLogger(__name__)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100
Ports = tuple[tuple[str, str, int], ...]  # (name, protocol, port) per resolved Service port


def resolve_ports(service: service_pb2.Service, pod: pod_pb2.Pod) -> Ports:
    """The Service's ports as they land on `pod`: numbers as they are, names through its containers."""
    named = {p.name: p.container_port for c in pod.spec.containers for p in c.ports if p.name}
    resolved = []
    for port in service.spec.ports:
        target = port.target_port or str(port.port)
        number = int(target) if target.isdigit() else named.get(target)
        if number is not None:
            resolved.append((port.name, port.protocol or "TCP", number))
    return tuple(resolved)


def endpoint_of(pod: pod_pb2.Pod) -> discovery_pb2.Endpoint:
    terminating = pod.metadata.HasField("deletion_timestamp")
    ready = conditions.is_true(pod.status.conditions, "Ready")
    endpoint = discovery_pb2.Endpoint(addresses=[pod.status.pod_ip])
    endpoint.conditions.ready = ready and not terminating
    endpoint.conditions.serving = ready
    endpoint.conditions.terminating = terminating
    if pod.spec.node_name:
        endpoint.node_name = pod.spec.node_name
    meta = pod.metadata
    endpoint.target_ref.CopyFrom(
        event_pb2.ObjectReference(kind="Pod", namespace=meta.namespace, name=meta.name, uid=meta.uid)
    )
    return endpoint


def slice_name(service: str, index: int) -> str:
    """Slice names are the Service's and a position, so a sync that runs before the informer has
    shown the last one's slices can never make a second copy."""
    return f"{service}-{index}"


def desired_slices(
    service: service_pb2.Service, pods: Sequence[pod_pb2.Pod]
) -> list[tuple[Ports, list[discovery_pb2.Endpoint]]]:
    """(ports, endpoints) of each slice `service` should have, at most MAX_ENDPOINTS_PER_SLICE each (pure)."""
    selector = label_selectors.from_map(service.spec.selector)
    groups: dict[Ports, list[pod_pb2.Pod]] = defaultdict(list)
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        if (
            pod.status.pod_ip
            and pod.status.phase not in podutil.TERMINAL_PHASES
            and selector.matches(pod.metadata.labels)
        ):
            ports = resolve_ports(service, pod)
            if ports or not service.spec.ports:
                groups[ports].append(pod)
    slices = []
    for ports, members in sorted(groups.items()):
        for start in range(0, len(members), MAX_ENDPOINTS_PER_SLICE):
            slices.append((ports, [endpoint_of(p) for p in members[start : start + MAX_ENDPOINTS_PER_SLICE]]))
    return slices


def endpoints_object(
    service: service_pb2.Service, slices: Sequence[tuple[Ports, list[discovery_pb2.Endpoint]]]
) -> service_pb2.Endpoints:
    """The core/v1 Endpoints mirroring the slices (pure)."""
    endpoints = service_pb2.Endpoints()
    endpoints.metadata.name, endpoints.metadata.namespace = service.metadata.name, service.metadata.namespace
    endpoints.metadata.labels[SERVICE_NAME_LABEL] = service.metadata.name
    endpoints.metadata.owner_references.append(controller_reference(service))
    merged: dict[Ports, service_pb2.EndpointSubset] = {}
    for ports, members in slices:
        subset = merged.get(ports)
        if subset is None:
            subset = merged[ports] = endpoints.subsets.add()
            subset.ports.extend(
                service_pb2.CoreEndpointPort(name=n, protocol=p, port=number) for n, p, number in ports
            )
        for endpoint in members:
            address = service_pb2.EndpointAddress(ip=endpoint.addresses[0], target_ref=endpoint.target_ref)
            if endpoint.HasField("node_name"):
                address.node_name = endpoint.node_name
            (subset.addresses if endpoint.conditions.ready else subset.not_ready_addresses).append(address)
    return endpoints


class EndpointSliceController(Controller):
    name = "endpointslice-controller"

    def __init__(self, client: ApiClient, informers: SharedInformers):
        super().__init__()
        self._client = client
        self._services = informers[resources.SERVICES]
        self._pods = informers[resources.PODS]
        self._slices = informers[resources.ENDPOINTSLICES]
        self._endpoints = informers[resources.ENDPOINTS]
        self._services.add_handler(_ServiceEvents(self))
        self._pods.add_handler(_PodEvents(self))
        self._slices.add_handler(_SliceEvents(self))

    async def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self._services.get(namespace, name)
        if service is None or not service.spec.selector:
            return  # gone (the garbage collector takes its slices), or its endpoints are set by hand
        wanted = desired_slices(service, self._pods.items(namespace))
        ours = {SERVICE_NAME_LABEL: name, MANAGED_BY_LABEL: MANAGED_BY}
        existing = {
            s.metadata.name: s for s in self._slices.items(namespace)
            if all(s.metadata.labels.get(k) == v for k, v in ours.items())
        }  # fmt: skip
        names = [slice_name(name, i) for i in range(len(wanted))]
        for slice_name_, (ports, members) in zip(names, wanted, strict=True):
            await self._write_slice(service, slice_name_, existing.get(slice_name_), ports, members)
        for surplus in set(existing) - set(names):
            await self._delete(resources.ENDPOINTSLICES, existing[surplus])
        await self._write_endpoints(service, endpoints_object(service, wanted))

    async def _write_slice(
        self,
        service: service_pb2.Service,
        name: str,
        current: discovery_pb2.EndpointSlice | None,
        ports: Ports,
        members: list[discovery_pb2.Endpoint],
    ) -> None:
        desired = discovery_pb2.EndpointSlice(address_type="IPv4", endpoints=members)
        for port_name, protocol, number in ports:
            desired.ports.add(name=port_name, protocol=protocol, port=number)
        if current is None:
            desired.metadata.name, desired.metadata.namespace = name, service.metadata.namespace
            desired.metadata.labels.update(
                {SERVICE_NAME_LABEL: service.metadata.name, MANAGED_BY_LABEL: MANAGED_BY}
            )
            desired.metadata.owner_references.append(controller_reference(service))
            try:
                await self._client.create(desired)
            except AlreadyExists:
                self.enqueue(service)  # made by an earlier sync the informer has not shown yet
            return
        if list(current.endpoints) == members and list(current.ports) == list(desired.ports):
            return
        desired.metadata.CopyFrom(current.metadata)
        await self._client.update(desired)  # conditioned on the resourceVersion seen: Conflict retries

    async def _write_endpoints(self, service: service_pb2.Service, desired: service_pb2.Endpoints) -> None:
        current = self._endpoints.get(service.metadata.namespace, service.metadata.name)
        if current is None:
            try:
                await self._client.create(desired)
            except AlreadyExists:
                self.enqueue(service)  # made meanwhile (the informer will show it): once more
            return
        if list(current.subsets) == list(desired.subsets):
            return
        desired.metadata.resource_version = current.metadata.resource_version
        await self._client.update(desired)

    async def _delete(self, resource: resources.Resource[Any], obj: Any) -> None:
        with contextlib.suppress(NotFound):
            meta = obj.metadata
            await self._client.delete(resource, meta.namespace, meta.name, uid=meta.uid)

    def enqueue(self, service: service_pb2.Service) -> None:
        self.queue.add(key_of(service.metadata.namespace, service.metadata.name))

    def services_selecting(self, pod: pod_pb2.Pod) -> list[service_pb2.Service]:
        return [
            s for s in self._services.items(pod.metadata.namespace)
            if s.spec.selector and label_selectors.from_map(s.spec.selector).matches(pod.metadata.labels)
        ]  # fmt: skip


class _ServiceEvents:
    def __init__(self, controller: EndpointSliceController):
        self._c = controller

    def on_add(self, service: service_pb2.Service) -> None:
        self._c.enqueue(service)

    def on_update(self, old: service_pb2.Service, new: service_pb2.Service) -> None:
        self._c.enqueue(new)

    def on_delete(self, service: service_pb2.Service) -> None:
        pass  # its slices and Endpoints are its dependents: the garbage collector removes them


class _PodEvents:
    def __init__(self, controller: EndpointSliceController):
        self._c = controller

    def on_add(self, pod: pod_pb2.Pod) -> None:
        for service in self._c.services_selecting(pod):
            self._c.enqueue(service)

    def on_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        concerned = {
            key_of(s.metadata.namespace, s.metadata.name): s for s in self._c.services_selecting(new)
        }
        if old.metadata.labels != new.metadata.labels:
            concerned.update(
                {key_of(s.metadata.namespace, s.metadata.name): s for s in self._c.services_selecting(old)}
            )
        for service in concerned.values():
            self._c.enqueue(service)

    def on_delete(self, pod: pod_pb2.Pod) -> None:
        self.on_add(pod)


class _SliceEvents:
    """A managed slice changed or went (by someone else?): its Service is synced again."""

    def __init__(self, controller: EndpointSliceController):
        self._c = controller

    def _service_of(self, endpoint_slice: discovery_pb2.EndpointSlice) -> None:
        if endpoint_slice.metadata.labels.get(MANAGED_BY_LABEL) == MANAGED_BY:
            self._c.queue.add(key_of(endpoint_slice.metadata.namespace,
                                     endpoint_slice.metadata.labels.get(SERVICE_NAME_LABEL, "")))  # fmt: skip

    def on_add(self, endpoint_slice: discovery_pb2.EndpointSlice) -> None:
        self._service_of(endpoint_slice)

    def on_update(self, old: discovery_pb2.EndpointSlice, new: discovery_pb2.EndpointSlice) -> None:
        self._service_of(new)

    def on_delete(self, endpoint_slice: discovery_pb2.EndpointSlice) -> None:
        self._service_of(endpoint_slice)
