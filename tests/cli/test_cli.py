"""The `raykube` CLI against a real (in-process) store and API server, as a user types it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cluster.api import resources
from cluster.cli.main import main
from cluster.client import config
from raykube.v1 import pod_pb2
from tests.harness import ControlPlaneThread

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: example-pod
  labels: {app: demo}
spec:
  containers:
  - name: example-container
    image: busybox:1.35
"""


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ControlPlaneThread]:
    plane = ControlPlaneThread(tmp_path)
    home = tmp_path / "home"
    config.save(
        home,
        config.ClientConfig(
            servers=("https://unused",), grpc=(plane.address,), tls=None, token="admin-token"
        ),
    )
    monkeypatch.setenv("RAYKUBE_HOME", str(home))
    yield plane
    plane.stop()


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, text: str, name: str = "pod.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_get_describe_delete(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write(tmp_path, POD)
    assert cli(capsys, "apply", "-f", manifest) == (0, "pod/example-pod created\n", "")
    assert cli(capsys, "apply", "-f", manifest) == (0, "pod/example-pod unchanged\n", "")
    assert cli(capsys, "apply", "-f", write(tmp_path, POD.replace("app: demo", "app: demo2"), "v2.yaml"))[
        1
    ] == ("pod/example-pod configured\n")
    code, out, _ = cli(capsys, "get", "pods")
    assert code == 0
    header, row = out.splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["example-pod", "0/1", "Pending", "0"]
    for alias in ("pod", "po"):
        assert cli(capsys, "get", alias, "example-pod", "-o", "name")[1] == "pod/example-pod\n"
    code, out, _ = cli(capsys, "get", "pod", "example-pod", "-o", "json")
    assert json.loads(out)["metadata"]["labels"] == {"app": "demo2"}
    assert (
        cli(capsys, "get", "pod", "example-pod", "-o", "jsonpath={.spec.containers[0].image}")[1]
        == "busybox:1.35\n"
    )
    code, out, _ = cli(capsys, "describe", "pod", "example-pod")
    assert "Name:" in out and "example-pod" in out and "  example-container:" in out and "Image:" in out
    assert cli(capsys, "get", "pods", "-l", "app=nothing") == (
        0,
        "",
        "No resources found in default namespace.\n",
    )
    assert cli(capsys, "delete", "pod", "example-pod") == (0, 'pod "example-pod" deleted\n', "")
    code, _, err = cli(capsys, "get", "pod", "example-pod")
    assert (code, err) == (1, 'Error from server (NotFound): pods "example-pod" not found\n')


def test_a_bad_manifest_names_the_field_and_stores_nothing(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = write(tmp_path, POD.replace("image:", "imagee:"))
    code, out, err = cli(capsys, "apply", "-f", unknown)
    assert (code, out) == (1, "")
    assert err == 'The Pod "example-pod" is invalid:\n* spec.containers[0].imagee: unknown field "imagee"\n'
    # One good and one semantically bad document: server-side validation rejects before anything is stored.
    mixed = write(tmp_path, POD + "---\n" + POD.replace("example-pod", "Bad_Name"), "mixed.yaml")
    code, out, err = cli(capsys, "apply", "-f", mixed)
    assert code == 1 and 'The Pod "Bad_Name" is invalid:\n* metadata.name: Invalid value: "Bad_Name"' in err
    deep = write(tmp_path, POD + "    env: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")
    code, out, err = cli(capsys, "apply", "-f", deep)
    assert (code, out) == (1, "") and "the manifest is nested more than 100 levels deep" in err
    assert "Traceback" not in err
    items, _ = cluster.run(lambda: cluster.plane.client().list(resources.PODS))
    assert items == []


def test_usage_errors_and_missing_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAYKUBE_HOME", str(tmp_path / "nowhere"))
    code, _, err = cli(capsys, "get", "pods")
    assert code == 1 and "run `raykube up` first" in err
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    for cidr, complaint in (
        ("10.0.0.0/8", "the prefix must be /12 to /28"),
        ("10.96.0.1/12", "host bits set"),
    ):
        with pytest.raises(SystemExit):
            main(["up", f"--service-cidr={cidr}"])
        assert complaint in capsys.readouterr().err


def test_wait_and_whoami(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "apply", "-f", write(tmp_path, POD))
    assert (
        cli(capsys, "wait", "pod/example-pod", "--for=jsonpath={.status.phase}=Pending", "--timeout=5s")[0]
        == 0
    )
    code, _, err = cli(capsys, "wait", "pod/example-pod", "--for=condition=Ready", "--timeout=0.5s")
    assert code == 1 and "timed out waiting for the condition" in err
    code, out, _ = cli(capsys, "whoami")
    assert code == 0 and "admin" in out and "system:masters" in out


def test_wait_sees_changes_made_after_it_started(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, "apply", "-f", write(tmp_path, POD))
    client = cluster.plane.client()
    with ThreadPoolExecutor(1) as waiter:
        ready = waiter.submit(main, ["wait", "pod/example-pod", "--for=condition=Ready", "--timeout=20s"])
        time.sleep(0.5)  # it has listed and watches now
        assert not ready.done()
        pod = cluster.run(lambda: client.get(resources.PODS, "default", "example-pod"))
        assert isinstance(pod, pod_pb2.Pod)
        pod.status.conditions.add(type="Ready", status="True")
        cluster.run(lambda: client.update_status(pod))
        assert ready.result(timeout=10) == 0
        gone = waiter.submit(main, ["wait", "pod/example-pod", "--for=delete", "--timeout=20s"])
        time.sleep(0.5)
        assert not gone.done()
        cluster.run(lambda: client.delete(resources.PODS, "default", "example-pod"))
        assert gone.result(timeout=10) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["pod/example-pod condition met"] * 2
    code, _, err = cli(capsys, "wait", "pod/example-pod", "--for=ready", "--timeout=1s")
    assert code == 1 and "unrecognized condition: 'ready'" in err


def test_delete_grace_follows_kubectl() -> None:
    from cluster.cli.commands import delete_grace

    assert delete_grace(None, now=False, force=False) is None
    assert delete_grace(None, now=True, force=False) == 1
    assert delete_grace(0, now=False, force=False) == 1
    assert delete_grace(0, now=False, force=True) == 0
    assert delete_grace(45, now=False, force=False) == 45
    assert delete_grace(-1, now=False, force=False) is None


def test_names_may_follow_flags_as_with_kubectl(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b"):
        cli(capsys, "apply", "-f", write(tmp_path, POD.replace("example-pod", name), f"{name}.yaml"))
    assert cli(capsys, "delete", "pod", "--now", "a", "b") == (0, 'pod "a" deleted\npod "b" deleted\n', "")
    with pytest.raises(SystemExit):
        main(["get", "pods", "--nonsense"])


def test_expose_get_and_describe_a_service(
    cluster: ControlPlaneThread, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deployment = str(Path(__file__).parents[2] / "examples" / "deployment.yaml")
    assert cli(capsys, "apply", "-f", deployment)[0] == 0
    assert cli(capsys, "expose", "deployment/web", "--port=80", "--target-port=http", "--type=NodePort") == (
        0,
        "service/web exposed\n",
        "",
    )
    code, out, _ = cli(capsys, "get", "svc", "web", "-o", "wide")
    _, row = out.splitlines()
    name, kind, cluster_ip, external, ports, _, selector = row.split()
    assert (name, kind, external, selector) == ("web", "NodePort", "<none>", "app=web")
    assert cluster_ip.startswith("10.") and re.fullmatch(r"80:3\d{4}/TCP", ports)
    code, out, _ = cli(capsys, "describe", "service", "web")
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line and line[0] != " ")
    fields = {key: value.strip() for key, value in fields.items()}
    assert (code, fields["IP"], fields["Selector"], fields["TargetPort"]) == (
        0,
        cluster_ip,
        "app=web",
        "http/TCP",
    )
    assert (fields["Endpoints"], fields["NodePort"]) == ("<none>", f"<unset>  {ports[3:8]}/TCP")
    assert (
        cli(capsys, "expose", "deployment", "web", "--port=80", "--name=web2")[1] == "service/web2 exposed\n"
    )
    code, _, err = cli(capsys, "expose", "deployment/web", "--port=80")
    assert (code, err) == (1, 'Error from server (AlreadyExists): services "web" already exists\n')
    code, _, err = cli(capsys, "expose", "pod/web", "--port=80")
    assert (code, err) == (
        1,
        "Error from server (BadRequest): expose needs deployment/NAME or replicaset/NAME\n",
    )
    code, _, err = cli(capsys, "expose", "deployment/missing", "--port=80")
    assert code == 1 and "NotFound" in err
    code, _, err = cli(capsys, "expose", "deployment/web", "--port=70000", "--name=bad")
    assert code == 1 and "spec.ports[0].port" in err
