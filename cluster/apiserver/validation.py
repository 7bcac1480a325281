"""Validation of API objects, with Kubernetes' field paths and messages.

Each function returns every problem it finds (not only the first), so one rejected apply tells the
user everything to fix. Runs after defaulting. Nothing here touches the store.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping

from cluster.api import labels as label_selectors
from cluster.api import names, quantity
from cluster.apiserver.allocation import NONE, ServiceNetwork
from cluster.errors import FieldError, duplicate, forbidden, invalid, not_supported, required
from raykube.v1 import (
    apps_pb2,
    coordination_pb2,
    discovery_pb2,
    event_pb2,
    meta_pb2,
    namespace_pb2,
    node_pb2,
    pod_pb2,
    scheduling_pb2,
    service_pb2,
)

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PROTOCOLS = ("TCP", "UDP", "SCTP")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Exists", "Equal")
NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")
UNSATISFIABLE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES = ("Honor", "Ignore")


def _problems(path: str, value: str, problems: Iterable[str]) -> list[FieldError]:
    return [invalid(path, value, p) for p in problems]


def object_meta(
    meta: meta_pb2.ObjectMeta, *, namespaced: bool, path: str = "metadata",
    name_rule: Callable[[str], list[str]] = names.dns1123_subdomain,
) -> list[FieldError]:  # fmt: skip
    """`name_rule`: what a name must be (a DNS subdomain, unless the kind says otherwise)."""
    errors: list[FieldError] = []
    if not meta.name:
        errors.append(required(f"{path}.name"))
    else:
        errors += _problems(f"{path}.name", meta.name, name_rule(meta.name))
    if namespaced:
        if not meta.namespace:
            errors.append(required(f"{path}.namespace"))
        else:
            errors += _problems(f"{path}.namespace", meta.namespace, names.dns1123_label(meta.namespace))
    errors += labels(meta.labels, f"{path}.labels")
    for key in meta.annotations:
        errors += _problems(f"{path}.annotations", key, names.qualified_name(key))
    if sum(len(k) + len(v) for k, v in meta.annotations.items()) > 256 * 1024:
        errors.append(
            FieldError(f"{path}.annotations", "Too long: must have at most 262144 bytes", "FieldValueTooLong")
        )
    return errors


def labels(values: Mapping[str, str], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for key, value in values.items():
        errors += _problems(path, key, names.qualified_name(key))
        errors += _problems(f"{path}[{key}]", value, names.label_value(value))
    return errors


def _resource_list(values: Mapping[str, str], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, text in values.items():
        where = f"{path}[{name}]"
        if name not in STANDARD_RESOURCES and ("/" not in name or names.qualified_name(name)):
            errors.append(invalid(where, name, "must be a standard resource type or fully qualified"))
            continue
        try:
            amount = quantity.parse(text)
        except quantity.QuantityError as err:
            errors.append(invalid(where, text, str(err)))
            continue
        if amount < 0:
            errors.append(invalid(where, text, "must be greater than or equal to 0"))
    return errors


def _resources(resources: pod_pb2.ResourceRequirements, path: str) -> list[FieldError]:
    errors = _resource_list(resources.limits, f"{path}.limits") + _resource_list(
        resources.requests, f"{path}.requests"
    )
    if errors:
        return errors
    for name, request in resources.requests.items():
        limit = resources.limits.get(name)
        if limit is not None and quantity.parse(request) > quantity.parse(limit):
            errors.append(
                invalid(f"{path}.requests", request, f"must be less than or equal to {name} limit of {limit}")
            )
    return errors


def _port_number(value: int, path: str, *, allow_zero: bool = False) -> list[FieldError]:
    low = 0 if allow_zero else 1
    if low <= value <= 65535:
        return []
    return [invalid(path, value, f"must be between {low} and 65535, inclusive")]


def _named_or_numbered_port(port: str, path: str) -> list[FieldError]:
    if not port:
        return [required(path)]
    if port.isdigit():
        return _port_number(int(port), path)
    if len(port) > 15 or names.dns1123_label(port):
        return [invalid(path, port, "must contain only alpha-numerics and '-', at most 15 characters")]
    return []


def _probe(probe: pod_pb2.Probe, path: str) -> list[FieldError]:
    handlers = [h for h in ("exec", "http_get", "tcp_socket") if probe.HasField(h)]
    errors: list[FieldError] = []
    if len(handlers) != 1:
        errors.append(
            FieldError(
                path,
                "must specify exactly one handler type (exec, httpGet or tcpSocket)"
                if handlers
                else "must specify a handler type",
                "FieldValueRequired",
            )
        )
    if probe.HasField("exec") and not probe.exec.command:
        errors.append(required(f"{path}.exec.command"))
    if probe.HasField("http_get"):
        errors += _named_or_numbered_port(probe.http_get.port, f"{path}.httpGet.port")
        if probe.http_get.scheme not in ("HTTP", "HTTPS"):
            errors.append(not_supported(f"{path}.httpGet.scheme", probe.http_get.scheme, ("HTTP", "HTTPS")))
    if probe.HasField("tcp_socket"):
        errors += _named_or_numbered_port(probe.tcp_socket.port, f"{path}.tcpSocket.port")
    for field, json_name, low in (
        ("initial_delay_seconds", "initialDelaySeconds", 0),
        ("timeout_seconds", "timeoutSeconds", 1),
        ("period_seconds", "periodSeconds", 1),
        ("success_threshold", "successThreshold", 1),
        ("failure_threshold", "failureThreshold", 1),
    ):
        if getattr(probe, field) < low:
            errors.append(
                invalid(
                    f"{path}.{json_name}", getattr(probe, field), f"must be greater than or equal to {low}"
                )
            )
    return errors


def _container(container: pod_pb2.Container, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not container.name:
        errors.append(required(f"{path}.name"))
    else:
        errors += _problems(f"{path}.name", container.name, names.dns1123_label(container.name))
    if not container.image.strip():
        errors.append(required(f"{path}.image"))
    if container.image_pull_policy not in PULL_POLICIES:
        errors.append(not_supported(f"{path}.imagePullPolicy", container.image_pull_policy, PULL_POLICIES))
    port_names: set[str] = set()
    for i, port in enumerate(container.ports):
        where = f"{path}.ports[{i}]"
        errors += _port_number(port.container_port, f"{where}.containerPort")
        errors += _port_number(port.host_port, f"{where}.hostPort", allow_zero=True)
        if port.protocol not in PROTOCOLS:
            errors.append(not_supported(f"{where}.protocol", port.protocol, PROTOCOLS))
        if port.name:
            if len(port.name) > 15 or names.dns1123_label(port.name):
                errors.append(
                    invalid(
                        f"{where}.name",
                        port.name,
                        "must be no more than 15 characters, lowercase alphanumerics and '-'",
                    )
                )
            elif port.name in port_names:
                errors.append(duplicate(f"{where}.name", port.name))
            port_names.add(port.name)
    for i, env in enumerate(container.env):
        if not env.name:
            errors.append(required(f"{path}.env[{i}].name"))
        else:
            errors += _problems(f"{path}.env[{i}].name", env.name, names.env_var_name(env.name))
    errors += _resources(container.resources, f"{path}.resources")
    for field, json_name in (("liveness_probe", "livenessProbe"), ("readiness_probe", "readinessProbe")):
        if container.HasField(field):
            errors += _probe(getattr(container, field), f"{path}.{json_name}")
    return errors


def _node_selector_requirement(req: pod_pb2.NodeSelectorRequirement, path: str) -> list[FieldError]:
    if req.operator not in NODE_SELECTOR_OPERATORS:
        return [not_supported(f"{path}.operator", req.operator, NODE_SELECTOR_OPERATORS)]
    try:
        label_selectors.requirement(req.key, req.operator, req.values)
    except label_selectors.SelectorError as err:
        return [invalid(path, req.key, str(err))]
    return []


def _node_selector_term(term: pod_pb2.NodeSelectorTerm, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, req in enumerate(term.match_expressions):
        errors += _node_selector_requirement(req, f"{path}.matchExpressions[{i}]")
    return errors


def _pod_affinity_terms(terms: Iterable[pod_pb2.PodAffinityTerm], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    for i, term in enumerate(terms):
        if not term.topology_key:
            errors.append(
                FieldError(
                    f"{path}[{i}].topologyKey", "Required value: can not be empty", "FieldValueRequired"
                )
            )
        try:
            label_selectors.from_label_selector(term.label_selector)
        except label_selectors.SelectorError as err:
            errors.append(invalid(f"{path}[{i}].labelSelector", "", str(err)))
    return errors


def _affinity(affinity: pod_pb2.Affinity, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    node = affinity.node_affinity
    required_terms = node.required_during_scheduling_ignored_during_execution
    if (
        node.HasField("required_during_scheduling_ignored_during_execution")
        and not required_terms.node_selector_terms
    ):
        errors.append(
            required(f"{path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms")
        )
    for i, term in enumerate(required_terms.node_selector_terms):
        errors += _node_selector_term(
            term, f"{path}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]"
        )
    for i, preferred in enumerate(node.preferred_during_scheduling_ignored_during_execution):
        where = f"{path}.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        if not 1 <= preferred.weight <= 100:
            errors.append(invalid(f"{where}.weight", preferred.weight, "must be in the range 1-100"))
        errors += _node_selector_term(preferred.preference, f"{where}.preference")
    for field, json_name in (("pod_affinity", "podAffinity"), ("pod_anti_affinity", "podAntiAffinity")):
        group = getattr(affinity, field)
        base = f"{path}.{json_name}"
        errors += _pod_affinity_terms(
            group.required_during_scheduling_ignored_during_execution,
            f"{base}.requiredDuringSchedulingIgnoredDuringExecution",
        )
        for i, weighted in enumerate(group.preferred_during_scheduling_ignored_during_execution):
            where = f"{base}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            if not 1 <= weighted.weight <= 100:
                errors.append(invalid(f"{where}.weight", weighted.weight, "must be in the range 1-100"))
            errors += _pod_affinity_terms([weighted.pod_affinity_term], f"{where}.podAffinityTerm")
    return errors


def _topology_spread(constraints: Iterable[pod_pb2.TopologySpreadConstraint], path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        where = f"{path}[{i}]"
        if c.max_skew <= 0:
            errors.append(invalid(f"{where}.maxSkew", c.max_skew, "must be greater than zero"))
        if not c.topology_key:
            errors.append(required(f"{where}.topologyKey"))
        else:
            errors += _problems(f"{where}.topologyKey", c.topology_key, names.qualified_name(c.topology_key))
        if c.when_unsatisfiable not in UNSATISFIABLE_ACTIONS:
            errors.append(
                not_supported(f"{where}.whenUnsatisfiable", c.when_unsatisfiable, UNSATISFIABLE_ACTIONS)
            )
        elif (c.topology_key, c.when_unsatisfiable) in seen:
            errors.append(duplicate(f"{where}", f"{{{c.topology_key}, {c.when_unsatisfiable}}}"))
        seen.add((c.topology_key, c.when_unsatisfiable))
        if c.HasField("min_domains"):
            if c.min_domains <= 0:
                errors.append(invalid(f"{where}.minDomains", c.min_domains, "must be greater than zero"))
            elif c.when_unsatisfiable != "DoNotSchedule":
                message = "can only use minDomains if whenUnsatisfiable=DoNotSchedule"
                errors.append(invalid(f"{where}.minDomains", c.min_domains, message))
        for field, value in (
            ("nodeAffinityPolicy", c.node_affinity_policy),
            ("nodeTaintsPolicy", c.node_taints_policy),
        ):
            if value and value not in INCLUSION_POLICIES:
                errors.append(not_supported(f"{where}.{field}", value, INCLUSION_POLICIES))
        for j, key in enumerate(c.match_label_keys):
            errors += _problems(f"{where}.matchLabelKeys[{j}]", key, names.qualified_name(key))
        try:
            label_selectors.from_label_selector(c.label_selector)
        except label_selectors.SelectorError as err:
            errors.append(invalid(f"{where}.labelSelector", "", str(err)))
    return errors


def _toleration(toleration: pod_pb2.Toleration, path: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if toleration.key:
        errors += _problems(f"{path}.key", toleration.key, names.qualified_name(toleration.key))
    elif toleration.operator != "Exists":
        errors.append(
            invalid(
                f"{path}.operator",
                toleration.operator,
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        )
    if toleration.operator not in TOLERATION_OPERATORS:
        errors.append(not_supported(f"{path}.operator", toleration.operator, TOLERATION_OPERATORS))
    elif toleration.operator == "Exists" and toleration.value:
        errors.append(
            invalid(f"{path}.operator", toleration.value, "value must be empty when `operator` is 'Exists'")
        )
    if toleration.effect and toleration.effect not in TAINT_EFFECTS:
        errors.append(not_supported(f"{path}.effect", toleration.effect, TAINT_EFFECTS))
    if toleration.HasField("toleration_seconds") and toleration.effect != "NoExecute":
        errors.append(
            invalid(
                f"{path}.effect",
                toleration.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        )
    return errors


def pod_spec(spec: pod_pb2.PodSpec, path: str = "spec") -> list[FieldError]:
    errors: list[FieldError] = []
    if not spec.containers:
        errors.append(required(f"{path}.containers"))
    seen: set[str] = set()
    for i, container in enumerate(spec.containers):
        errors += _container(container, f"{path}.containers[{i}]")
        if container.name and container.name in seen:
            errors.append(duplicate(f"{path}.containers[{i}].name", container.name))
        seen.add(container.name)
    if spec.restart_policy not in RESTART_POLICIES:
        errors.append(not_supported(f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES))
    if spec.termination_grace_period_seconds < 0:
        errors.append(
            invalid(
                f"{path}.terminationGracePeriodSeconds",
                spec.termination_grace_period_seconds,
                "must be greater than or equal to 0",
            )
        )
    errors += labels(spec.node_selector, f"{path}.nodeSelector")
    if spec.node_name:
        errors += _problems(f"{path}.nodeName", spec.node_name, names.dns1123_subdomain(spec.node_name))
    for i, toleration in enumerate(spec.tolerations):
        errors += _toleration(toleration, f"{path}.tolerations[{i}]")
    errors += _affinity(spec.affinity, f"{path}.affinity")
    errors += _topology_spread(spec.topology_spread_constraints, f"{path}.topologySpreadConstraints")
    if spec.priority_class_name:
        errors += _problems(
            f"{path}.priorityClassName",
            spec.priority_class_name,
            names.dns1123_subdomain(spec.priority_class_name),
        )
    if spec.HasField("preemption_policy") and spec.preemption_policy not in PREEMPTION_POLICIES:
        errors.append(not_supported(f"{path}.preemptionPolicy", spec.preemption_policy, PREEMPTION_POLICIES))
    if spec.hostname:
        errors += _problems(f"{path}.hostname", spec.hostname, names.dns1123_label(spec.hostname))
    return errors


def pod(obj: pod_pb2.Pod) -> list[FieldError]:
    return object_meta(obj.metadata, namespaced=True) + pod_spec(obj.spec)


def pod_update(new: pod_pb2.Pod, old: pod_pb2.Pod) -> list[FieldError]:
    """Kubernetes allows changing only container images, tolerations (additions) and metadata of a pod."""
    errors = pod(new)
    if errors:
        return errors
    mutable = pod_pb2.PodSpec()
    mutable.CopyFrom(new.spec)
    for container, before in zip(mutable.containers, old.spec.containers, strict=False):
        container.image = before.image
    if len(new.spec.containers) == len(old.spec.containers):
        del mutable.tolerations[:]
        mutable.tolerations.extend(old.spec.tolerations)
    if mutable != old.spec:
        errors.append(
            forbidden(
                "spec",
                "pod updates may not change fields other than `spec.containers[*].image` "
                "or `spec.tolerations` (only additions to existing tolerations)",
            )
        )
    return errors


def pod_status(obj: pod_pb2.Pod) -> list[FieldError]:
    phases = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
    if obj.status.phase and obj.status.phase not in phases:
        return [not_supported("status.phase", obj.status.phase, phases)]
    return []


def node(obj: node_pb2.Node) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=False)
    for i, taint in enumerate(obj.spec.taints):
        where = f"spec.taints[{i}]"
        if not taint.key:
            errors.append(required(f"{where}.key"))
        else:
            errors += _problems(f"{where}.key", taint.key, names.qualified_name(taint.key))
        if taint.value:
            errors += _problems(f"{where}.value", taint.value, names.label_value(taint.value))
        if taint.effect not in TAINT_EFFECTS:
            errors.append(not_supported(f"{where}.effect", taint.effect, TAINT_EFFECTS))
    errors += _resource_list(obj.status.capacity, "status.capacity")
    errors += _resource_list(obj.status.allocatable, "status.allocatable")
    return errors


def namespace(obj: namespace_pb2.Namespace) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=False)
    if obj.metadata.name:  # namespace names are DNS labels, stricter than object names
        errors += _problems("metadata.name", obj.metadata.name, names.dns1123_label(obj.metadata.name))[:1]
    for i, finalizer in enumerate(obj.spec.finalizers):
        errors += _problems(f"spec.finalizers[{i}]", finalizer, names.qualified_name(finalizer))
    return errors


def _label_selector(selector: meta_pb2.LabelSelector, path: str) -> tuple[list[FieldError], bool]:
    """Problems with a workload's selector, and whether it can be evaluated."""
    if not selector.match_labels and not selector.match_expressions:
        return [required(path)], False
    errors = labels(selector.match_labels, f"{path}.matchLabels")
    try:
        label_selectors.from_label_selector(selector)
    except label_selectors.SelectorError as err:
        errors.append(invalid(path, "", str(err)))
    return errors, not errors


def _pod_template(
    template: pod_pb2.PodTemplateSpec, selector: meta_pb2.LabelSelector, selector_ok: bool, path: str
) -> list[FieldError]:
    errors = labels(template.metadata.labels, f"{path}.metadata.labels")
    if selector_ok and not label_selectors.from_label_selector(selector).matches(template.metadata.labels):
        errors.append(
            invalid(
                f"{path}.metadata.labels",
                dict(sorted(template.metadata.labels.items())),
                "`selector` does not match template `labels`",
            )
        )
    errors += pod_spec(template.spec, f"{path}.spec")
    if template.spec.restart_policy != "Always":
        errors.append(not_supported(f"{path}.spec.restartPolicy", template.spec.restart_policy, ["Always"]))
    return errors


def _non_negative(value: int, path: str) -> list[FieldError]:
    return [] if value >= 0 else [invalid(path, value, "must be greater than or equal to 0")]


def _workload(
    meta: meta_pb2.ObjectMeta,
    replicas: int,
    min_ready_seconds: int,
    selector: meta_pb2.LabelSelector,
    template: pod_pb2.PodTemplateSpec,
) -> list[FieldError]:
    errors = object_meta(meta, namespaced=True)
    errors += _non_negative(replicas, "spec.replicas")
    errors += _non_negative(min_ready_seconds, "spec.minReadySeconds")
    selector_errors, selector_ok = _label_selector(selector, "spec.selector")
    return errors + selector_errors + _pod_template(template, selector, selector_ok, "spec.template")


def _immutable_selector(new: meta_pb2.LabelSelector, old: meta_pb2.LabelSelector) -> list[FieldError]:
    if new == old:
        return []
    try:
        shown = str(label_selectors.from_label_selector(new))
    except label_selectors.SelectorError:
        shown = ""
    return [invalid("spec.selector", shown, "field is immutable")]


def replica_set(obj: apps_pb2.ReplicaSet) -> list[FieldError]:
    spec = obj.spec
    return _workload(obj.metadata, spec.replicas, spec.min_ready_seconds, spec.selector, spec.template)


def replica_set_update(new: apps_pb2.ReplicaSet, old: apps_pb2.ReplicaSet) -> list[FieldError]:
    return replica_set(new) + _immutable_selector(new.spec.selector, old.spec.selector)


def replica_set_status(obj: apps_pb2.ReplicaSet) -> list[FieldError]:
    status = obj.status
    errors: list[FieldError] = []
    for field, json_name in (("replicas", "replicas"), ("fully_labeled_replicas", "fullyLabeledReplicas"),
                             ("ready_replicas", "readyReplicas"), ("available_replicas", "availableReplicas"),
                             ("observed_generation", "observedGeneration")):  # fmt: skip
        errors += _non_negative(getattr(status, field), f"status.{json_name}")
    if status.ready_replicas > status.replicas:
        errors.append(
            invalid("status.readyReplicas", status.ready_replicas, "cannot be greater than status.replicas")
        )
    if status.available_replicas > status.ready_replicas:
        errors.append(
            invalid(
                "status.availableReplicas", status.available_replicas, "cannot be greater than readyReplicas"
            )
        )
    return errors


def int_or_percent(value: str, path: str) -> tuple[list[FieldError], bool]:
    """An IntOrString that must be a non-negative count or a percentage; (problems, is_zero)."""
    digits = value[:-1] if value.endswith("%") else value
    if not digits.isdigit():
        return [invalid(path, value, "must be a non-negative integer or a percentage (e.g. '25%')")], False
    if value.endswith("%") and int(digits) > 100:
        return [invalid(path, value, "must not be greater than 100%")], False
    return [], int(digits) == 0


def _strategy(strategy: apps_pb2.DeploymentStrategy) -> list[FieldError]:
    types = ("Recreate", "RollingUpdate")
    if strategy.type not in types:
        return [not_supported("spec.strategy.type", strategy.type, types)]
    if strategy.type == "Recreate":
        if strategy.HasField("rolling_update"):
            return [
                forbidden(
                    "spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
                )
            ]
        return []
    rolling, path = strategy.rolling_update, "spec.strategy.rollingUpdate"
    surge_errors, surge_zero = int_or_percent(rolling.max_surge, f"{path}.maxSurge")
    unavailable_errors, unavailable_zero = int_or_percent(rolling.max_unavailable, f"{path}.maxUnavailable")
    errors = surge_errors + unavailable_errors
    if not errors and surge_zero and unavailable_zero:
        errors.append(invalid(f"{path}.maxUnavailable", rolling.max_unavailable,
                              "may not be 0 when `maxSurge` is 0"))  # fmt: skip
    return errors


def deployment(obj: apps_pb2.Deployment) -> list[FieldError]:
    spec = obj.spec
    errors = _workload(obj.metadata, spec.replicas, spec.min_ready_seconds, spec.selector, spec.template)
    errors += _strategy(spec.strategy)
    errors += _non_negative(spec.revision_history_limit, "spec.revisionHistoryLimit")
    if spec.progress_deadline_seconds <= spec.min_ready_seconds:
        errors.append(invalid("spec.progressDeadlineSeconds", spec.progress_deadline_seconds,
                              "must be greater than minReadySeconds"))  # fmt: skip
    return errors


def deployment_update(new: apps_pb2.Deployment, old: apps_pb2.Deployment) -> list[FieldError]:
    return deployment(new) + _immutable_selector(new.spec.selector, old.spec.selector)


def deployment_status(obj: apps_pb2.Deployment) -> list[FieldError]:
    status = obj.status
    errors: list[FieldError] = []
    for field, json_name in (("replicas", "replicas"), ("updated_replicas", "updatedReplicas"),
                             ("ready_replicas", "readyReplicas"), ("available_replicas", "availableReplicas"),
                             ("unavailable_replicas", "unavailableReplicas"),
                             ("observed_generation", "observedGeneration")):  # fmt: skip
        errors += _non_negative(getattr(status, field), f"status.{json_name}")
    return errors


def event(obj: event_pb2.Event) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=True)
    involved = obj.involved_object
    if not involved.name:
        errors.append(required("involvedObject.name"))
    if involved.namespace and involved.namespace != obj.metadata.namespace:
        errors.append(
            invalid("involvedObject.namespace", involved.namespace, "does not match event.namespace")
        )
    if obj.type not in ("Normal", "Warning"):
        errors.append(not_supported("type", obj.type, ("Normal", "Warning")))
    if not obj.reason:
        errors.append(required("reason"))
    if len(obj.message) > 1024:
        errors.append(FieldError("message", "Too long: must have at most 1024 bytes", "FieldValueTooLong"))
    errors += _non_negative(obj.count, "count")
    return errors


def lease(obj: coordination_pb2.Lease) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=True)
    spec = obj.spec
    if spec.HasField("lease_duration_seconds") and spec.lease_duration_seconds <= 0:
        errors.append(
            invalid("spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0")
        )
    errors += _non_negative(spec.lease_transitions, "spec.leaseTransitions")
    return errors


PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}


def priority_class(obj: scheduling_pb2.PriorityClass) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=False)
    name = obj.metadata.name
    if name in SYSTEM_PRIORITY_CLASSES:
        if obj.value != SYSTEM_PRIORITY_CLASSES[name]:
            errors.append(invalid("value", obj.value, f"must be {SYSTEM_PRIORITY_CLASSES[name]} for {name}"))
    elif name.startswith("system-"):
        errors.append(
            invalid("metadata.name", name, "priority class names with 'system-' prefix are reserved")
        )
    elif obj.value > HIGHEST_USER_DEFINABLE_PRIORITY:
        errors.append(
            invalid("value", obj.value, f"must be less than or equal to {HIGHEST_USER_DEFINABLE_PRIORITY}")
        )
    if obj.HasField("preemption_policy") and obj.preemption_policy not in PREEMPTION_POLICIES:
        errors.append(not_supported("preemptionPolicy", obj.preemption_policy, PREEMPTION_POLICIES))
    return errors


def priority_class_update(
    new: scheduling_pb2.PriorityClass, old: scheduling_pb2.PriorityClass
) -> list[FieldError]:
    errors = priority_class(new)
    if new.value != old.value:
        errors.append(forbidden("value", "may not be changed in an update."))
    if new.preemption_policy != old.preemption_policy:
        errors.append(invalid("preemptionPolicy", new.preemption_policy, "field is immutable"))
    return errors


SERVICE_TYPES = ("ClusterIP", "NodePort")
SESSION_AFFINITIES = ("None", "ClientIP")
TRAFFIC_POLICIES = ("Cluster",)
SERVICE_PROTOCOLS = ("TCP", "UDP", "SCTP")


def _service_target_port(value: str, path: str) -> list[FieldError]:
    if value.isdigit():
        return _port_number(int(value), path)
    if not value or len(value) > 15 or names.dns1123_label(value) or not any(c.isalpha() for c in value):
        rule = "must contain only lowercase alphanumerics and '-', at least one letter, at most 15 characters"
        return [invalid(path, value, f"{rule} (an IANA service name)")]
    return []


def service(obj: service_pb2.Service, network: ServiceNetwork) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=True)
    spec = obj.spec
    if spec.type not in SERVICE_TYPES:
        errors.append(not_supported("spec.type", spec.type, SERVICE_TYPES))
    headless = spec.cluster_ip == NONE
    if headless and spec.type != "ClusterIP":
        errors.append(invalid("spec.clusterIP", NONE, "may not be set to 'None' for NodePort services"))
    elif spec.cluster_ip and not headless and not network.contains(spec.cluster_ip):
        detail = f"provided IP is not in the valid range. The range of valid IPs is {network.cidr}"
        errors.append(invalid("spec.clusterIP", spec.cluster_ip, detail))
    if not spec.ports and not headless:
        errors.append(required("spec.ports"))
    seen_names: set[str] = set()
    seen_ports: set[tuple[int, str]] = set()
    for i, port in enumerate(spec.ports):
        path = f"spec.ports[{i}]"
        if len(spec.ports) > 1 and not port.name:
            errors.append(required(f"{path}.name"))
        elif port.name:
            errors += _problems(f"{path}.name", port.name, names.dns1123_label(port.name))
            if port.name in seen_names:
                errors.append(duplicate(f"{path}.name", port.name))
            seen_names.add(port.name)
        errors += _port_number(port.port, f"{path}.port")
        if port.protocol not in SERVICE_PROTOCOLS:
            errors.append(not_supported(f"{path}.protocol", port.protocol, SERVICE_PROTOCOLS))
        if (port.port, port.protocol) in seen_ports:
            errors.append(duplicate(path, f"{port.port}/{port.protocol}"))
        seen_ports.add((port.port, port.protocol))
        errors += _service_target_port(port.target_port, f"{path}.targetPort")
        if port.node_port and spec.type != "NodePort":
            errors.append(forbidden(f"{path}.nodePort", f"may not be used when `type` is '{spec.type}'"))
        elif port.node_port and port.node_port not in network.node_ports:
            valid = f"{network.node_ports.start}-{network.node_ports.stop - 1}"
            detail = f"provided port is not in the valid range. The range of valid ports is {valid}"
            errors.append(invalid(f"{path}.nodePort", port.node_port, detail))
    errors += labels(spec.selector, "spec.selector")
    if spec.session_affinity not in SESSION_AFFINITIES:
        errors.append(not_supported("spec.sessionAffinity", spec.session_affinity, SESSION_AFFINITIES))
    timeout = spec.session_affinity_config.client_ip.timeout_seconds
    if spec.session_affinity == "ClientIP" and not 0 < timeout <= 86400:
        errors.append(invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", timeout,
                              "must be greater than 0 and less than 86400"))  # fmt: skip
    if spec.internal_traffic_policy not in TRAFFIC_POLICIES:
        errors.append(
            not_supported("spec.internalTrafficPolicy", spec.internal_traffic_policy, TRAFFIC_POLICIES)
        )
    return errors


def service_update(
    new: service_pb2.Service, old: service_pb2.Service, network: ServiceNetwork
) -> list[FieldError]:
    errors = service(new, network)
    if old.spec.cluster_ip and new.spec.cluster_ip != old.spec.cluster_ip:
        errors.append(invalid("spec.clusterIP", new.spec.cluster_ip, "field is immutable"))
    return errors


def _ip(value: str, path: str) -> list[FieldError]:
    try:
        ipaddress.IPv4Address(value)
    except ipaddress.AddressValueError:
        return [invalid(path, value, "must be a valid IPv4 address")]
    return []


def endpoints(obj: service_pb2.Endpoints) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=True)
    for i, subset in enumerate(obj.subsets):
        for field, json_name in (("addresses", "addresses"), ("not_ready_addresses", "notReadyAddresses")):
            for j, address in enumerate(getattr(subset, field)):
                errors += _ip(address.ip, f"subsets[{i}].{json_name}[{j}].ip")
        for j, port in enumerate(subset.ports):
            errors += _port_number(port.port, f"subsets[{i}].ports[{j}].port")
    return errors


def endpoint_slice(obj: discovery_pb2.EndpointSlice) -> list[FieldError]:
    errors = object_meta(obj.metadata, namespaced=True)
    if obj.address_type not in ("IPv4", "IPv6", "FQDN"):
        errors.append(not_supported("addressType", obj.address_type, ("IPv4", "IPv6", "FQDN")))
    if len(obj.endpoints) > 1000:
        errors.append(FieldError("endpoints", "Too many: must have at most 1000 items", "FieldValueTooMany"))
    for i, endpoint in enumerate(obj.endpoints):
        if not endpoint.addresses:
            errors.append(required(f"endpoints[{i}].addresses"))
        if obj.address_type == "IPv4":
            for j, address in enumerate(endpoint.addresses):
                errors += _ip(address, f"endpoints[{i}].addresses[{j}]")
    for i, port in enumerate(obj.ports):
        if port.HasField("port"):
            errors += _port_number(port.port, f"ports[{i}].port")
    return errors
