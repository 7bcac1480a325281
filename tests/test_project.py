"""Project-wide guards: generated code is fresh, and the layering written in ARCHITECTURE.md holds."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cluster import codegen

ROOT = Path(__file__).resolve().parents[1]


def test_generated_protobuf_code_is_fresh() -> None:
    """Regenerating from proto/ must give exactly the modules in use (run `python -m cluster.codegen`)."""
    assert codegen.stale_files() == []


def imports_of(package: str) -> dict[str, set[str]]:
    """module path -> every module it imports (absolute names), for each .py under `package`."""
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


# (package, forbidden import prefixes, why)
LAYERS = [
    ("agents", ("cluster.store", "cluster.apiserver", "cluster.scheduler", "cluster.bootstrap"),
     "node agents talk to the control plane only through the API (cluster.client, cluster.api)"),
    ("cluster/apiserver", ("cluster.store", "cluster.scheduler", "agents"),
     "the API server is an etcd client: it works against any etcd, not only ours"),
    ("cluster/scheduler", ("cluster.store", "cluster.apiserver", "agents", "ray"),
     "the scheduler sees the cluster only through the API"),
    ("cluster/store", ("cluster.apiserver", "cluster.scheduler", "cluster.client", "agents", "ray"),
     "the store knows nothing of Kubernetes objects or of Ray"),
    ("cluster/client", ("cluster.store", "cluster.apiserver", "agents", "ray"),
     "clients depend on the wire only"),
    ("cluster/api", ("cluster.store", "cluster.apiserver", "cluster.client", "agents", "ray", "grpc"),
     "the API vocabulary is pure data"),
]  # fmt: skip


@pytest.mark.parametrize(("package", "forbidden", "why"), LAYERS, ids=[layer[0] for layer in LAYERS])
def test_layering(package: str, forbidden: tuple[str, ...], why: str) -> None:
    violations = [
        f"{module} imports {name}"
        for module, names in imports_of(package).items()
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]
    assert violations == [], why
