"""One real cluster per test module (bringing one up costs ~15 s), torn down by `raykube down`."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.e2e.cluster import REPO, Cluster


@pytest.fixture(scope="session", autouse=True)
def busybox_image() -> None:
    subprocess.run([str(REPO / "scripts" / "busybox-image.sh")], check=True, capture_output=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Cluster]:
    home = tmp_path_factory.mktemp("home")
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    running = Cluster(home, f"e2e-{module}-{os.getpid()}")
    try:
        running.up()
        yield running
    finally:
        running.raykube("down", "--purge", check=False)
