"""Project-wide guards: generated code is fresh, and the layering holds (import contracts in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from cluster import codegen

ROOT = Path(__file__).resolve().parents[1]


def test_generated_protobuf_code_is_fresh() -> None:
    """Regenerating from proto/ must give exactly the modules in use (run `python -m cluster.codegen`)."""
    assert codegen.stale_files() == []


def test_imports_keep_the_layering() -> None:
    """The contracts in pyproject.toml ([tool.importlinter]): layers import downward only, no import
    cycles between sibling modules, Ray only in the bootstrap (`lint-imports` says which import breaks one)."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
