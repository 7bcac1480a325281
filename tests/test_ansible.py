"""The ansible playbooks parse and reference only modules ansible-core has (a syntax check: running
them needs lab machines; the same steps run on one machine in tests/e2e through the CLI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE = Path(__file__).resolve().parents[1] / "ansible"


@pytest.mark.parametrize("playbook", ["site.yml", "site-down.yml"])
def test_playbook_syntax(playbook: str) -> None:
    command = shutil.which("ansible-playbook", path=str(Path(sys.executable).parent))
    assert command, "ansible-core is a dev dependency"
    done = subprocess.run(
        [command, "--syntax-check", "-i", str(ANSIBLE / "inventory.example.ini"), str(ANSIBLE / playbook)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
