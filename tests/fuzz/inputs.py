"""What the fuzz tests generate: arbitrary JSON, and manifests that are nearly right.

Arbitrary JSON finds crashes in parsers; nearly-right manifests (a real object with one value
anywhere in it replaced by arbitrary JSON, or a key added) get past the first checks and reach
validation, defaults and patching, where most bugs would hide.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

# Every run draws fresh examples (no example database in the checkout); the counts add up to
# well over 10,000 inputs per CI run across tests/fuzz.
settings.register_profile("fuzz", database=None, deadline=None, print_blob=True)
settings.load_profile("fuzz")

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "-1", "1e3", "500m", "128Mi", "TCP", "Always", "a/b", "x" * 300, "\x00"])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "fuzz", "labels": {"app": "web"}, "annotations": {"note": "x"}},
    "spec": {
        "containers": [{
            "name": "main", "image": "busybox:1.35", "command": ["sh", "-c", "sleep 1"],
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "A", "value": "1"}],
            "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1"}},
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        }],
        "restartPolicy": "Always",
        "nodeSelector": {"disk": "ssd"},
        "tolerations": [{"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
    },
}  # fmt: skip
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "fuzz"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": POD["spec"]}},
}  # fmt: skip
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "fuzz"},
    "spec": {"selector": {"app": "web"}, "type": "ClusterIP",
             "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]},
}  # fmt: skip
OBJECTS = {"Pod": POD, "Deployment": DEPLOYMENT, "Service": SERVICE}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document a value sits at (map keys and list indexes)."""
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def nearly_right(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """`base` with one to three of its values replaced by arbitrary JSON, or keys added."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from([p for p in _paths(doc) if p]))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(json_values)
        else:
            parent[path[-1]] = draw(json_values)
    return doc


def any_object() -> st.SearchStrategy[dict[str, Any]]:
    return st.sampled_from(sorted(OBJECTS)).flatmap(lambda kind: nearly_right(OBJECTS[kind]))
