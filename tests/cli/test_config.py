"""The kubeconfig `raykube up` writes: kubectl's shape, a context per API server, and every API
server's gRPC address for raykube's CLI, which fails over between them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cluster.cli.main import main
from cluster.client import config
from cluster.tls import Tls
from tests.harness import ControlPlaneThread

TWO = config.ClientConfig(
    servers=("https://10.0.0.11:6443", "https://10.0.0.12:6443"),
    grpc=("10.0.0.11:6444", "10.0.0.12:6444"),
    tls=Tls("CA PEM", "CERT PEM", "KEY PEM"),
)


def test_every_api_server_has_a_context_and_every_context_knows_every_grpc_address(tmp_path: Path) -> None:
    path = config.save(tmp_path, TWO)
    assert path.stat().st_mode & 0o777 == 0o600
    document = yaml.safe_load(path.read_text())
    assert document["current-context"] == "raykube"
    assert {c["name"]: c["cluster"]["server"] for c in document["clusters"]} == {
        "raykube": "https://10.0.0.11:6443", "raykube-1": "https://10.0.0.12:6443"}  # fmt: skip
    assert {c["name"]: c["context"]["cluster"] for c in document["contexts"]} == {
        "raykube": "raykube", "raykube-1": "raykube-1"}  # fmt: skip
    assert config.load(tmp_path) == config.ClientConfig(("https://10.0.0.11:6443",), TWO.grpc, TWO.tls)
    second = config.load(tmp_path, context="raykube-1")
    assert (second.servers, second.grpc) == (("https://10.0.0.12:6443",), TWO.grpc)


def test_a_kubeconfig_without_raykube_grpc_servers_is_refused_saying_why(tmp_path: Path) -> None:
    document = yaml.safe_load(config.save(tmp_path, TWO).read_text())
    for cluster in document["clusters"]:
        cluster["cluster"]["extensions"][0]["extension"] = {"server": "10.0.0.11:6444"}  # an older shape
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(document))
    with pytest.raises(
        config.NoConfig, match=r"context 'raykube' in .*kubeconfig names no raykube gRPC endpoint"
    ):
        config.load(tmp_path)


@pytest.fixture
def dead_then_live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ControlPlaneThread]:
    """A kubeconfig whose first API server is gone (nothing listens there) and second serves."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        gone = f"127.0.0.1:{probe.getsockname()[1]}"
    plane = ControlPlaneThread(tmp_path)
    home = tmp_path / "home"
    config.save(
        home, config.ClientConfig(("https://unused",), (gone, plane.address), tls=None, token="admin-token")
    )
    monkeypatch.setenv("RAYKUBE_HOME", str(home))
    yield plane
    plane.stop()


def test_the_cli_fails_over_to_the_next_api_server(
    dead_then_live: ControlPlaneThread, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", "namespaces", "-o", "name"]) == 0
    assert "namespace/default" in capsys.readouterr().out.splitlines()
