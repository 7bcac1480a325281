"""Kubernetes' protobuf encoding of request bodies (application/vnd.kubernetes.protobuf), decoded
into the JSON form our codec reads (pure).

kubectl 1.33's typed clients (`kubectl create deployment`, ...) send bodies this way and do not
fall back to JSON. The encoding is the 4-byte magic "k8s\\0" and a runtime.Unknown message
{typeMeta {apiVersion = 1, kind = 2} = 1, raw = 2, contentEncoding = 3, contentType = 4}, whose
`raw` is the object in k8s.io/api's generated.proto messages. Those messages carry the same
fields as ours, under Kubernetes' field numbers (FIELD_NUMBERS: JSON name -> number, from
k8s.io/api and k8s.io/apimachinery v0.33 generated.proto, the same since v0.30) and with a few
representations of their own: IntOrString {type = 1, intVal = 2, strVal = 3}, Quantity {string =
1}, Time {seconds = 1} (a zero time is an empty message: null), and a Probe's exec/httpGet/
tcpSocket inside its ProbeHandler (field 1). Fields we do not model are skipped, as Kubernetes'
own protobuf decoding ignores unknown fields.
"""

from __future__ import annotations

import datetime
import struct
from collections.abc import Iterator
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor

from cluster.api.codec import field_option
from cluster.errors import BadRequest
from raykube.v1 import options_pb2

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5

# our message -> {our JSON field name: Kubernetes field number, or (outer, inner) for a field that
# Kubernetes nests one level deeper (Probe's handler)}; RBAC from k8s.io/api rbac/v1, the reviews
# from authorization/v1 and authentication/v1
FIELD_NUMBERS: dict[str, dict[str, int | tuple[int, int]]] = {
    "Affinity": {"nodeAffinity": 1, "podAffinity": 2, "podAntiAffinity": 3},
    "ClientIPConfig": {"timeoutSeconds": 1},
    "Container": {
        "name": 1,
        "image": 2,
        "imagePullPolicy": 14,
        "command": 3,
        "args": 4,
        "workingDir": 5,
        "env": 7,
        "ports": 6,
        "resources": 8,
        "livenessProbe": 10,
        "readinessProbe": 11,
    },
    "ContainerPort": {"name": 1, "containerPort": 3, "hostPort": 2, "protocol": 4, "hostIP": 5},
    "ContainerState": {"waiting": 1, "running": 2, "terminated": 3},
    "ContainerStateRunning": {"startedAt": 1},
    "ContainerStateTerminated": {
        "exitCode": 1,
        "signal": 2,
        "reason": 3,
        "message": 4,
        "startedAt": 5,
        "finishedAt": 6,
        "containerID": 7,
    },
    "ContainerStateWaiting": {"reason": 1, "message": 2},
    "ContainerStatus": {
        "name": 1,
        "state": 2,
        "lastState": 3,
        "ready": 4,
        "restartCount": 5,
        "image": 6,
        "imageID": 7,
        "containerID": 8,
        "started": 9,
    },
    "CoreEndpointPort": {"name": 1, "port": 2, "protocol": 3, "appProtocol": 4},
    "DaemonEndpoint": {"Port": 1},
    "Deployment": {"metadata": 1, "spec": 2, "status": 3},
    "DeploymentCondition": {
        "type": 1,
        "status": 2,
        "lastUpdateTime": 6,
        "lastTransitionTime": 7,
        "reason": 4,
        "message": 5,
    },
    "DeploymentSpec": {
        "replicas": 1,
        "selector": 2,
        "template": 3,
        "strategy": 4,
        "minReadySeconds": 5,
        "revisionHistoryLimit": 6,
        "paused": 7,
        "progressDeadlineSeconds": 9,
    },
    "DeploymentStatus": {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 3,
        "readyReplicas": 7,
        "availableReplicas": 4,
        "unavailableReplicas": 5,
        "conditions": 6,
        "collisionCount": 8,
    },
    "DeploymentStrategy": {"type": 1, "rollingUpdate": 2},
    "Endpoint": {"addresses": 1, "conditions": 2, "hostname": 3, "targetRef": 4, "nodeName": 6, "zone": 7},
    "EndpointAddress": {"ip": 1, "hostname": 3, "nodeName": 4, "targetRef": 2},
    "EndpointConditions": {"ready": 1, "serving": 2, "terminating": 3},
    "EndpointPort": {"name": 1, "protocol": 2, "port": 3, "appProtocol": 4},
    "EndpointSlice": {"metadata": 1, "addressType": 4, "endpoints": 2, "ports": 3},
    "EndpointSubset": {"addresses": 1, "notReadyAddresses": 2, "ports": 3},
    "Endpoints": {"metadata": 1, "subsets": 2},
    "EnvVar": {"name": 1, "value": 2},
    "Event": {
        "metadata": 1,
        "involvedObject": 2,
        "reason": 3,
        "message": 4,
        "source": 5,
        "firstTimestamp": 6,
        "lastTimestamp": 7,
        "count": 8,
        "type": 9,
        "eventTime": 10,
        "reportingComponent": 14,
        "reportingInstance": 15,
        "action": 12,
    },
    "EventSource": {"component": 1, "host": 2},
    "ExecAction": {"command": 1},
    "HTTPGetAction": {"path": 1, "port": 2, "host": 3, "scheme": 4},
    "LabelSelector": {"matchLabels": 1, "matchExpressions": 2},
    "LabelSelectorRequirement": {"key": 1, "operator": 2, "values": 3},
    "Lease": {"metadata": 1, "spec": 2},
    "LeaseSpec": {
        "holderIdentity": 1,
        "leaseDurationSeconds": 2,
        "acquireTime": 3,
        "renewTime": 4,
        "leaseTransitions": 5,
    },
    "ListMeta": {"resourceVersion": 2},
    "LoadBalancerStatus": {},
    "Namespace": {"metadata": 1, "spec": 2, "status": 3},
    "NamespaceCondition": {"type": 1, "status": 2, "lastTransitionTime": 4, "reason": 5, "message": 6},
    "NamespaceSpec": {"finalizers": 1},
    "NamespaceStatus": {"phase": 1, "conditions": 2},
    "Node": {"metadata": 1, "spec": 2, "status": 3},
    "NodeAddress": {"type": 1, "address": 2},
    "NodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": 1,
        "preferredDuringSchedulingIgnoredDuringExecution": 2,
    },
    "NodeCondition": {
        "type": 1,
        "status": 2,
        "lastHeartbeatTime": 3,
        "lastTransitionTime": 4,
        "reason": 5,
        "message": 6,
    },
    "NodeDaemonEndpoints": {"kubeletEndpoint": 1},
    "NodeSelector": {"nodeSelectorTerms": 1},
    "NodeSelectorRequirement": {"key": 1, "operator": 2, "values": 3},
    "NodeSelectorTerm": {"matchExpressions": 1, "matchFields": 2},
    "NodeSpec": {"podCIDR": 1, "podCIDRs": 7, "taints": 5, "unschedulable": 4, "providerID": 3},
    "NodeStatus": {
        "capacity": 1,
        "allocatable": 2,
        "conditions": 4,
        "addresses": 5,
        "daemonEndpoints": 6,
        "nodeInfo": 7,
        "images": 8,
    },
    "ContainerImage": {"names": 1, "sizeBytes": 2},
    "PriorityClass": {"metadata": 1, "value": 2, "globalDefault": 3, "description": 4, "preemptionPolicy": 5},
    "TopologySpreadConstraint": {
        "maxSkew": 1,
        "topologyKey": 2,
        "whenUnsatisfiable": 3,
        "labelSelector": 4,
        "minDomains": 5,
        "nodeAffinityPolicy": 6,
        "nodeTaintsPolicy": 7,
        "matchLabelKeys": 8,
    },
    "NodeSystemInfo": {
        "machineID": 1,
        "systemUUID": 2,
        "kernelVersion": 4,
        "osImage": 5,
        "containerRuntimeVersion": 6,
        "kubeletVersion": 7,
        "kubeProxyVersion": 8,
        "operatingSystem": 9,
        "architecture": 10,
        "bootID": 3,
    },
    "ObjectMeta": {
        "name": 1,
        "generateName": 2,
        "namespace": 3,
        "uid": 5,
        "labels": 11,
        "annotations": 12,
        "resourceVersion": 6,
        "generation": 7,
        "creationTimestamp": 8,
        "deletionTimestamp": 9,
        "deletionGracePeriodSeconds": 10,
        "ownerReferences": 13,
        "finalizers": 14,
    },
    "ObjectReference": {
        "kind": 1,
        "namespace": 2,
        "name": 3,
        "uid": 4,
        "apiVersion": 5,
        "resourceVersion": 6,
        "fieldPath": 7,
    },
    "OwnerReference": {
        "apiVersion": 5,
        "kind": 1,
        "name": 3,
        "uid": 4,
        "controller": 6,
        "blockOwnerDeletion": 7,
    },
    "Pod": {"metadata": 1, "spec": 2, "status": 3},
    "PodAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": 1,
        "preferredDuringSchedulingIgnoredDuringExecution": 2,
    },
    "PodAffinityTerm": {"labelSelector": 1, "namespaces": 2, "topologyKey": 3},
    "PodAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": 1,
        "preferredDuringSchedulingIgnoredDuringExecution": 2,
    },
    "PodCondition": {
        "type": 1,
        "status": 2,
        "lastProbeTime": 3,
        "lastTransitionTime": 4,
        "reason": 5,
        "message": 6,
    },
    "PodIP": {"ip": 1},
    "PodSpec": {
        "containers": 2,
        "restartPolicy": 3,
        "terminationGracePeriodSeconds": 4,
        "nodeSelector": 7,
        "nodeName": 10,
        "tolerations": 22,
        "affinity": 18,
        "schedulerName": 19,
        "hostname": 16,
        "hostNetwork": 11,
        "serviceAccountName": 8,
        "automountServiceAccountToken": 21,
        "priorityClassName": 24,
        "priority": 25,
        "preemptionPolicy": 31,
        "topologySpreadConstraints": 33,
    },
    "PodStatus": {
        "phase": 1,
        "conditions": 2,
        "message": 3,
        "reason": 4,
        "hostIP": 5,
        "podIP": 6,
        "podIPs": 12,
        "startTime": 7,
        "containerStatuses": 8,
        "qosClass": 9,
        "nominatedNodeName": 11,
    },
    "PodTemplateSpec": {"metadata": 1, "spec": 2},
    "PreferredSchedulingTerm": {"weight": 1, "preference": 2},
    "Probe": {
        "exec": (1, 1),
        "httpGet": (1, 2),
        "tcpSocket": (1, 3),
        "initialDelaySeconds": 2,
        "timeoutSeconds": 3,
        "periodSeconds": 4,
        "successThreshold": 5,
        "failureThreshold": 6,
    },
    "ReplicaSet": {"metadata": 1, "spec": 2, "status": 3},
    "ReplicaSetCondition": {"type": 1, "status": 2, "lastTransitionTime": 3, "reason": 4, "message": 5},
    "ReplicaSetSpec": {"replicas": 1, "minReadySeconds": 4, "selector": 2, "template": 3},
    "ReplicaSetStatus": {
        "replicas": 1,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 4,
        "availableReplicas": 5,
        "observedGeneration": 3,
        "conditions": 6,
    },
    "ResourceRequirements": {"limits": 1, "requests": 2},
    "RollingUpdateDeployment": {"maxUnavailable": 1, "maxSurge": 2},
    "Service": {"metadata": 1, "spec": 2, "status": 3},
    "ServicePort": {"name": 1, "protocol": 2, "port": 3, "targetPort": 4, "nodePort": 5, "appProtocol": 6},
    "ServiceSpec": {
        "ports": 1,
        "selector": 2,
        "clusterIP": 3,
        "clusterIPs": 18,
        "type": 4,
        "sessionAffinity": 7,
        "sessionAffinityConfig": 14,
        "internalTrafficPolicy": 22,
        "externalTrafficPolicy": 11,
        "ipFamilies": 19,
        "ipFamilyPolicy": 17,
    },
    "ServiceStatus": {"loadBalancer": 1},
    "SessionAffinityConfig": {"clientIP": 1},
    "Status": {"status": 2, "message": 3, "reason": 4, "details": 5, "code": 6},
    "StatusCause": {"reason": 1, "message": 2, "field": 3},
    "StatusDetails": {"name": 1, "kind": 3, "causes": 4},
    "TCPSocketAction": {"port": 1, "host": 2},
    "Taint": {"key": 1, "value": 2, "effect": 3, "timeAdded": 4},
    "Toleration": {"key": 1, "operator": 2, "value": 3, "effect": 4, "tolerationSeconds": 5},
    "WeightedPodAffinityTerm": {"weight": 1, "podAffinityTerm": 2},
    "PolicyRule": {"verbs": 1, "apiGroups": 2, "resources": 3, "resourceNames": 4, "nonResourceURLs": 5},
    "Role": {"metadata": 1, "rules": 2},
    "ClusterRole": {"metadata": 1, "rules": 2},
    "Subject": {"kind": 1, "apiGroup": 2, "name": 3, "namespace": 4},
    "RoleRef": {"apiGroup": 1, "kind": 2, "name": 3},
    "RoleBinding": {"metadata": 1, "subjects": 2, "roleRef": 3},
    "ClusterRoleBinding": {"metadata": 1, "subjects": 2, "roleRef": 3},
    "ServiceAccount": {"metadata": 1, "automountServiceAccountToken": 4},
    "ResourceAttributes": {
        "namespace": 1,
        "verb": 2,
        "group": 3,
        "version": 4,
        "resource": 5,
        "subresource": 6,
        "name": 7,
    },
    "NonResourceAttributes": {"path": 1, "verb": 2},
    "SelfSubjectAccessReviewSpec": {"resourceAttributes": 1, "nonResourceAttributes": 2},
    "SubjectAccessReviewStatus": {"allowed": 1, "reason": 2, "evaluationError": 3, "denied": 4},
    "SelfSubjectAccessReview": {"metadata": 1, "spec": 2, "status": 3},
    "UserInfo": {"username": 1, "uid": 2, "groups": 3},
    "SelfSubjectReviewStatus": {"userInfo": 1},
    "SelfSubjectReview": {"metadata": 1, "status": 2},
    "BoundObjectReference": {"kind": 1, "apiVersion": 2, "name": 3, "uid": 4},
    "TokenRequestSpec": {"audiences": 1, "expirationSeconds": 4, "boundObjectRef": 3},
    "TokenRequestStatus": {"token": 1, "expirationTimestamp": 2},
    "TokenRequest": {"metadata": 1, "spec": 2, "status": 3},
}


class _Malformed(Exception):
    pass


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """(number, wire type, value) of every field of one message; a LEN value is bytes."""
    at = 0
    while at < len(data):
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == _VARINT:
            value, at = _varint(data, at)
        elif wire in (_LEN, _I64, _I32):
            size = {_I64: 8, _I32: 4}.get(wire, 0)
            if wire == _LEN:
                size, at = _varint(data, at)
            if at + size > len(data):
                raise _Malformed("truncated field")
            value, at = data[at : at + size], at + size
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        yield number, wire, value


def decode_envelope(body: bytes) -> tuple[str, str, bytes]:
    """(apiVersion, kind, raw object) of a Kubernetes protobuf body; BadRequest if it is not one."""
    if not body.startswith(MAGIC):
        raise BadRequest("a Kubernetes protobuf body starts with k8s\\0")
    api_version = kind = ""
    raw = b""
    try:
        for number, wire, value in fields(body[len(MAGIC) :]):
            if number == 1 and wire == _LEN:
                for inner, inner_wire, text in fields(value):
                    if inner_wire == _LEN and inner in (1, 2):
                        api_version, kind = (
                            (text.decode(), kind) if inner == 1 else (api_version, text.decode())
                        )
            elif number == 2 and wire == _LEN:
                raw = value
    except (_Malformed, UnicodeDecodeError) as err:
        raise BadRequest(f"the protobuf body could not be decoded: {err}") from None
    return api_version, kind, raw


def to_json(raw: bytes, descriptor: Descriptor) -> dict[str, Any]:
    """The JSON form (our field names) of a Kubernetes-encoded message of our `descriptor`'s kind."""
    try:
        return _message(raw, descriptor)
    except (_Malformed, UnicodeDecodeError) as err:
        raise BadRequest(f"the protobuf body could not be decoded: {err}") from None


def _message(raw: bytes, descriptor: Descriptor) -> dict[str, Any]:
    numbers = FIELD_NUMBERS.get(descriptor.name, {})
    by_number: dict[int, FieldDescriptor] = {}
    nested: dict[int, dict[int, FieldDescriptor]] = {}
    for field in descriptor.fields:
        number = numbers.get(field.json_name)
        if isinstance(number, tuple):
            nested.setdefault(number[0], {})[number[1]] = field
        elif number is not None:
            by_number[number] = field
    out: dict[str, Any] = {}
    for number, wire, value in fields(raw):
        if number in nested and wire == _LEN:  # e.g. Probe.handler: its fields are the Probe's
            for inner, inner_wire, inner_value in fields(value):
                if inner in nested[number]:
                    _put(out, nested[number][inner], inner_wire, inner_value)
        elif number in by_number:
            _put(out, by_number[number], wire, value)
    return out


def _put(out: dict[str, Any], field: Any, wire: int, value: Any) -> None:
    name = field.json_name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, item = _map_entry(field, value)
        out.setdefault(name, {})[key] = item
        return
    converted = _value(field, wire, value)
    if converted is None:
        return
    if field.is_repeated:
        out.setdefault(name, []).append(converted)
    else:
        out[name] = converted


def _map_entry(field: Any, value: bytes) -> tuple[str, Any]:
    key, item = "", None
    quantity = field_option(field, options_pb2.quantity)
    value_field = field.message_type.fields_by_name["value"]
    for number, _, data in fields(value):
        if number == 1:
            key = data.decode()
        elif number == 2:
            if quantity:
                item = next((v.decode() for n, _, v in fields(data) if n == 1), "")
            elif value_field.message_type is not None:
                item = _message(data, value_field.message_type)
            else:
                item = data.decode()
    return key, item


def _value(field: Any, wire: int, value: Any) -> Any:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        if field.message_type.full_name == "google.protobuf.Timestamp":
            return _time(value)
        return _message(value, field.message_type)
    if kind == FieldDescriptor.TYPE_STRING:
        if (
            wire == _LEN
            and field.GetOptions().Extensions[options_pb2.int_or_string]
            and _is_int_or_string(value)
        ):
            return _int_or_string(value)
        return value.decode()
    if kind == FieldDescriptor.TYPE_BOOL:
        return bool(value)
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64):
        return value - (1 << 64) if value >= 1 << 63 else value
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return struct.unpack("<d", value)[0]
    return value


def _is_int_or_string(value: bytes) -> bool:
    try:
        return all(wire in (_VARINT, _LEN) and number in (1, 2, 3) for number, wire, _ in fields(value))
    except _Malformed:
        return False


def _int_or_string(value: bytes) -> int | str:
    parts = {number: data for number, _, data in fields(value)}
    if parts.get(1, 0) == 0:
        number = parts.get(2, 0)
        return int(number - (1 << 64) if number >= 1 << 63 else number)
    return bytes(parts.get(3, b"")).decode()


def _time(value: bytes) -> str | None:
    seconds = next((v for n, _, v in fields(value) if n == 1), 0)
    if not seconds:
        return None  # a zero time: null, as Kubernetes renders it
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
