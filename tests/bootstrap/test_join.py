"""Joining a multi-host cluster needs its Ray token; without one, `join` says where to get it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.bootstrap import lifecycle


def test_joining_beyond_loopback_without_the_ray_token_says_where_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(
        lifecycle.BootstrapError, match=r"there is none at .*ray-token: copy ray-token from the first host"
    ):
        lifecycle.join(tmp_path, "192.0.2.10:6379", "second")
    assert not (tmp_path / "ray.pid").exists()  # nothing was started
