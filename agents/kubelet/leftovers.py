"""Remove what is left of a node's pods in the local Podman when its kubelet could not (`raykube down`).

A kubelet removes its own containers when it is drained. Its host may be gone, or the drain may
have failed; then `down` removes, as a safety net, every Podman pod and container labelled with
that node on this machine: pods first, which takes their infra containers along, then lone
containers. It runs `podman` with the project's containers.conf, like the kubelet's service.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from agents.kubelet.podman_service import CONTAINERS_CONF
from agents.kubelet.runtime import LABEL_NODE


def remove_leftovers(nodes: list[str], report: Callable[[str], None]) -> None:
    """Remove every Podman pod and container of these nodes here; `report` says what was done."""
    podman = shutil.which("podman")
    if podman is None or not nodes:
        return
    env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}

    def run(*args: str) -> str:
        done = subprocess.run([podman, *args], capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            report(f"  warning: podman {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    for node in nodes:
        label = f"label={LABEL_NODE}={node}"
        for noun, listing, removal in (
            ("pod", ("pod", "ps"), ("pod", "rm", "-t", "0")),  # no grace: their kubelet is gone
            ("container", ("ps", "-a"), ("rm", "-t", "0")),
        ):
            ids = run(*listing, "-q", "--filter", label).split()
            if ids:
                run(*removal, "-f", *ids)
                report(f"  removed {len(ids)} leftover {noun}(s) of node {node}")
