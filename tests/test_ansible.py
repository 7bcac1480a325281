"""The ansible playbooks and roles: they parse, reference only what ansible-core has, and pass
ansible-lint's production profile (converging real hosts needs lab machines or a test rig)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE = Path(__file__).resolve().parents[1] / "ansible"
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = shutil.which(tool, path=str(BIN))
    assert command, f"{tool} is a dev dependency"
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ANSIBLE / "ansible.cfg"),
    }
    return subprocess.run([command, *args], capture_output=True, text=True, check=False, cwd=ANSIBLE, env=env,
                          timeout=300)  # fmt: skip


@pytest.mark.parametrize("playbook", ["site.yml", "site-down.yml"])
def test_playbook_syntax(playbook: str) -> None:
    done = _run("ansible-playbook", "--syntax-check", "-i", "inventory/hosts.example.yml", playbook)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ansible_lint_production_profile() -> None:
    done = _run("ansible-lint", "--offline", "--profile", "production", "site.yml", "site-down.yml")
    assert done.returncode == 0, done.stdout + done.stderr
