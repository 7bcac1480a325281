"""Build the kubelet tests' container image locally: a busybox-static rootfs, `podman import`ed.

Nothing can be pulled from the internet here, so tests make their own image: /bin/busybox from
Debian's busybox-static plus one symlink per applet, CMD /bin/sh. Each test session builds it
under its own tag and removes it at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from collections.abc import Mapping
from pathlib import Path

BUSYBOX = "/bin/busybox"


def build_busybox_image(workdir: Path, ref: str, env: Mapping[str, str]) -> str:
    """Import a busybox image as `ref`; returns `ref`."""
    rootfs = workdir / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    for folder in ("tmp", "www", "etc"):
        (rootfs / folder).mkdir()
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        if applet != "busybox":
            os.symlink("busybox", rootfs / "bin" / applet)
    archive = workdir / "rootfs.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(rootfs, arcname=".")
    subprocess.run(
        ["podman", "import", "--change", 'CMD ["/bin/sh"]', str(archive), ref],
        check=True,
        capture_output=True,
        env=dict(env),
    )
    return ref


def remove_image(ref: str, env: Mapping[str, str]) -> None:
    subprocess.run(["podman", "rmi", "--force", ref], check=True, capture_output=True, env=dict(env))
