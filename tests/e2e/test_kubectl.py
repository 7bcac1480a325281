"""Real kubectl (the oldest and the newest installed: 1.27 and 1.33 on this project's machine,
Debian's 1.20 on a fresh one) and the official Kubernetes Python client against a real cluster,
over HTTPS with the kubeconfig `raykube up` writes.

Each kubectl runs with a cache directory of its own (kubectl caches discovery and OpenAPI per
server). A second identity, jane, holds a client certificate of the cluster CA and only `view` in
the default namespace: she reads, and is refused writes with 403.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from cluster.bootstrap.pki import CertificateAuthority, Identity
from tests.e2e.cluster import Cluster
from tests.polling import eventually

pytestmark = pytest.mark.e2e
PINNED = Path("/usr/lib/google-cloud-sdk/bin")  # kubectl.1.<minor>, one per version, where installed


def _minor(binary: str) -> tuple[int, int]:
    shown = subprocess.run([binary, "version", "--client", "-o", "json"], capture_output=True, text=True,
                           timeout=30, check=True).stdout  # fmt: skip
    client = json.loads(shown)["clientVersion"]
    return int(client["major"]), int(client["minor"].rstrip("+"))


def installed_kubectls() -> dict[str, str]:
    """minor version ("1.27") -> binary: $KUBECTL_BINARIES (colon-separated) if set, else every
    pinned kubectl.1.<minor>, else the kubectl on PATH."""
    given = [b for b in os.environ.get("KUBECTL_BINARIES", "").split(":") if b]
    binaries = given or [str(p) for p in PINNED.glob("kubectl.1.*")] or [shutil.which("kubectl") or ""]
    found = {}
    for binary in filter(None, binaries):
        major, minor = _minor(binary)
        found[f"{major}.{minor}"] = binary
    return found


INSTALLED = installed_kubectls()
_ORDERED = sorted(INSTALLED, key=lambda v: tuple(map(int, v.split("."))))
VERSIONS = tuple(dict.fromkeys([_ORDERED[0], _ORDERED[-1]])) if _ORDERED else ()
if not VERSIONS:
    pytest.skip("no kubectl installed (scripts/setup.sh installs Debian's)", allow_module_level=True)


def at_least(version: str, minor: int) -> bool:
    return int(version.split(".")[1]) >= minor


class Kubectl:
    def __init__(self, version: str, kubeconfig: Path, cache: Path):
        self.binary = INSTALLED[version]
        self.env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        self.cache = cache

    def __call__(self, *args: str, stdin: str | None = None, check: bool = True,
                 timeout: float = 90) -> subprocess.CompletedProcess[str]:  # fmt: skip
        done = subprocess.run([self.binary, f"--cache-dir={self.cache}", *args], env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done


@pytest.fixture(scope="module")
def viewer_kubeconfig(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """jane's kubeconfig: her own client certificate, and `view` in default through a RoleBinding."""
    home = tmp_path_factory.mktemp("jane")
    ca = CertificateAuthority.ensure(cluster.home / "pki")
    cert, key = ca.issue(Identity("jane", ("developers",), client=True))
    config = yaml.safe_load((cluster.home / "kubeconfig").read_text())
    config["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert).decode(),
                                  "client-key-data": base64.b64encode(key).decode()}  # fmt: skip
    path = home / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    cluster.apply("apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: jane-views}\n"
                  "subjects: [{kind: User, apiGroup: rbac.authorization.k8s.io, name: jane}]\n"
                  "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n")  # fmt: skip
    return path


def kubectl_for(cluster: Cluster, version: str, tmp: Path, kubeconfig: Path | None = None) -> Kubectl:
    return Kubectl(
        version, kubeconfig or cluster.home / "kubeconfig", tmp / f"cache-{version}-{time.monotonic_ns()}"
    )


POD = """\
apiVersion: v1
kind: Pod
metadata: {name: NAME, labels: {app: talker}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: localhost/busybox:1.35
    command: [sh, -c, 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done']
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_pods_from_apply_to_delete(cluster: Cluster, version: str, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, version, tmp_path)
    name = f"talker-{version.replace('.', '-')}"
    manifest = POD.replace("NAME", name)
    assert kubectl("apply", "-f", "-", stdin=manifest).stdout.strip() == f"pod/{name} created"
    assert kubectl("apply", "-f", "-", stdin=manifest).stdout.strip() == f"pod/{name} unchanged"
    relabeled = manifest.replace("app: talker}", "app: talker, tier: demo}")
    assert kubectl("apply", "-f", "-", stdin=relabeled).stdout.strip() == f"pod/{name} configured"
    kubectl("wait", f"pod/{name}", "--for=condition=Ready", "--timeout=90s")

    wide = kubectl("get", "pods", name, "-o", "wide").stdout.splitlines()
    assert wide[0].split()[:7] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert re.match(rf"{name}\s+1/1\s+Running\s+0\s+\S+\s+10\.88\.\S+\s+{cluster.node}\s", wide[1])
    as_json = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)
    assert as_json["metadata"]["labels"] == {"app": "talker", "tier": "demo"}
    assert (
        yaml.safe_load(kubectl("get", "pod", name, "-o", "yaml").stdout)["spec"]["nodeName"] == cluster.node
    )
    assert kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}").stdout == "Running"
    assert name in kubectl("get", "pods", "-l", "tier=demo", "-o", "name").stdout
    everywhere = kubectl("get", "pods", "-A").stdout.splitlines()
    assert everywhere[0].split()[0] == "NAMESPACE" and any(
        line.split()[:2] == ["default", name] for line in everywhere
    )
    described = kubectl("describe", "pod", name).stdout
    assert re.search(rf"^Name:\s+{name}$", described, re.M) and "Events:" in described

    assert kubectl("logs", name, "--tail=3").stdout.count("tick") == 3

    kubectl("label", "pod", name, "color=blue")
    kubectl("annotate", "pod", name, "note=hello")
    kubectl("patch", "pod", name, "-p", '{"metadata":{"labels":{"strategic":"yes"}}}')
    kubectl("patch", "pod", name, "--type=merge", "-p", '{"metadata":{"labels":{"merged":"yes"}}}')
    kubectl(
        "patch",
        "pod",
        name,
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/labels/json","value":"yes"}]',
    )
    labels = json.loads(kubectl("get", "pod", name, "-o", "json").stdout)["metadata"]
    assert {k: labels["labels"][k] for k in ("color", "strategic", "merged", "json")} == {
        "color": "blue", "strategic": "yes", "merged": "yes", "json": "yes"}  # fmt: skip
    assert labels["annotations"]["note"] == "hello"

    started = time.monotonic()
    assert kubectl("delete", "pod", name).stdout.strip() == f'pod "{name}" deleted'
    assert time.monotonic() - started > 1  # it waited for the kubelet to finish the pod
    assert kubectl("get", "pod", name, check=False).returncode == 1


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_logs_follow_and_watch(cluster: Cluster, version: str, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, version, tmp_path)
    name = f"follow-{version.replace('.', '-')}"
    kubectl("apply", "-f", "-", stdin=POD.replace("NAME", name))
    kubectl("wait", f"pod/{name}", "--for=condition=Ready", "--timeout=90s")
    follower = subprocess.Popen([kubectl.binary, f"--cache-dir={kubectl.cache}", "logs", "-f", name],
                                env=kubectl.env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    watcher = subprocess.Popen([kubectl.binary, f"--cache-dir={kubectl.cache}", "get", "pods", "-w", "-l", "app=talker"],
                               env=kubectl.env, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert follower.stdout is not None and watcher.stdout is not None
        lines = [follower.stdout.readline() for _ in range(5)]
        assert all(line.startswith("tick ") for line in lines)  # streamed while the pod runs
        first = watcher.stdout.readline()
        assert first.split()[:3] == ["NAME", "READY", "STATUS"]
        kubectl("delete", "pod", name, "--wait=false")
        seen = ""
        deadline = time.monotonic() + 60
        while "Terminating" not in seen and time.monotonic() < deadline:
            seen += watcher.stdout.readline()
        assert re.search(rf"^{name}\s+\S+\s+Terminating", seen, re.M), seen
        follower.wait(timeout=60)  # the stream ends with the container
    finally:
        for process in (follower, watcher):
            process.kill()
            process.wait()


DEPLOYMENT_NAME = "kweb"


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_deployments_services_and_permissions(
    cluster: Cluster, version: str, tmp_path: Path, viewer_kubeconfig: Path
) -> None:
    kubectl = kubectl_for(cluster, version, tmp_path)
    name = f"{DEPLOYMENT_NAME}-{version.replace('.', '-')}"
    assert kubectl("create", "deployment", name, "--image=localhost/busybox:1.35", "--replicas=2", "--port=8080",
                   "--", "httpd", "-f", "-p", "8080").stdout.strip() == f"deployment.apps/{name} created"  # fmt: skip
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s")
    assert (
        kubectl("scale", f"deployment/{name}", "--replicas=3").stdout.strip()
        == f"deployment.apps/{name} scaled"
    )
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s")
    kubectl("set", "image", f"deployment/{name}", "busybox=localhost/busybox:1.35-next")
    history = kubectl("rollout", "history", f"deployment/{name}").stdout
    assert re.search(r"^2\s", history, re.M)
    assert "rolled back" in kubectl("rollout", "undo", f"deployment/{name}").stdout
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=120s")
    image = kubectl(
        "get", "deployment", name, "-o", "jsonpath={.spec.template.spec.containers[0].image}"
    ).stdout
    assert image == "localhost/busybox:1.35"
    assert kubectl("expose", "deployment", name, "--port=80", "--target-port=8080").stdout.strip() == (
        f"service/{name} exposed")  # fmt: skip
    everything = kubectl("get", "all").stdout
    for kind in ("pod/", "service/", "deployment.apps/", "replicaset.apps/"):
        assert kind + name in everything, kind

    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"
    if at_least(version, 24):  # `create token` came in kubectl 1.24
        token = kubectl("create", "token", "default").stdout
        assert token.count(".") == 2  # a JWT: header.claims.signature
    assert kubectl("auth", "can-i", "delete", "nodes", "--as=jane", check=False).stdout.strip() == "no"
    jane = kubectl_for(cluster, version, tmp_path, viewer_kubeconfig)
    assert name in jane("get", "deployments").stdout
    assert jane("auth", "can-i", "create", "pods", check=False).stdout.strip() == "no"
    refused = jane("scale", f"deployment/{name}", "--replicas=1", check=False)
    assert refused.returncode == 1 and "Error from server (Forbidden)" in refused.stderr
    assert 'User "jane" cannot' in refused.stderr
    refused = jane("delete", "service", name, check=False)
    assert refused.returncode == 1 and "Forbidden" in refused.stderr

    kubectl("delete", "service", name)
    kubectl("delete", "deployment", name)
    eventually(lambda: not kubectl("get", "pods", "-l", f"app={name}", "-o", "name").stdout.strip(), timeout=90,
               what="the deployment's pods gone")  # fmt: skip


SSA_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME, labels: {app: NAME}}
spec:
  replicas: 1
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec: {containers: [{name: main, image: localhost/busybox:1.35, command: [sleep, "3600"]}]}
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_server_side_apply_and_its_conflicts(cluster: Cluster, version: str, tmp_path: Path) -> None:
    kubectl = kubectl_for(cluster, version, tmp_path)
    name = f"ssa-{version.replace('.', '-')}"
    manifest = SSA_DEPLOYMENT.replace("NAME", name)
    applied = kubectl("apply", "--server-side", "-f", "-", stdin=manifest).stdout.strip()
    assert applied == f"deployment.apps/{name} serverside-applied"
    scaled = manifest.replace("replicas: 1", "replicas: 2")
    refused = kubectl("apply", "--server-side", "--field-manager=ops", "-f", "-", stdin=scaled, check=False)
    assert refused.returncode == 1
    assert (
        'Apply failed with 1 conflict: conflict with "kubectl" using apps/v1: .spec.replicas'
        in refused.stderr
    )
    kubectl("apply", "--server-side", "--field-manager=ops", "--force-conflicts", "-f", "-", stdin=scaled)
    managers = kubectl(
        "get", "deployment", name, "-o", "jsonpath={.metadata.managedFields[*].manager}"
    ).stdout
    assert {"kubectl", "ops"} <= set(managers.split())
    assert kubectl("get", "deployment", name, "-o", "jsonpath={.spec.replicas}").stdout == "2"
    kubectl("delete", "deployment", name)


def test_the_kubernetes_python_client(cluster: Cluster) -> None:
    from kubernetes import client, config, watch

    api = client.ApiClient(config.new_client_from_config(str(cluster.home / "kubeconfig")).configuration)
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="py-pod", labels={"via": "python"}),
                       spec=client.V1PodSpec(termination_grace_period_seconds=1, containers=[
                           client.V1Container(name="main", image="localhost/busybox:1.35",
                                              command=["sleep", "3600"])]))  # fmt: skip
    stream = watch.Watch()
    events = stream.stream(
        core.list_namespaced_pod, "default", label_selector="via=python", timeout_seconds=60
    )
    created = core.create_namespaced_pod("default", pod)
    assert (
        created.metadata.uid
        and core.read_namespaced_pod("py-pod", "default").spec.containers[0].name == "main"
    )
    core.patch_namespaced_pod("py-pod", "default", {"metadata": {"labels": {"patched": "yes"}}})
    running = None
    for event in events:
        if event["object"].status.phase == "Running":
            running = event["object"]
            break
    stream.stop()
    assert running is not None and running.metadata.labels["patched"] == "yes"
    listed = core.list_namespaced_pod("default", label_selector="via=python")
    assert [p.metadata.name for p in listed.items] == ["py-pod"]

    container = client.V1Container(name="main", image="localhost/busybox:1.35", command=["sleep", "3600"])
    template = client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "py"}),
                                        spec=client.V1PodSpec(containers=[container]))  # fmt: skip
    spec = client.V1DeploymentSpec(replicas=1, selector=client.V1LabelSelector(match_labels={"app": "py"}),
                                   template=template)  # fmt: skip
    deployment = client.V1Deployment(metadata=client.V1ObjectMeta(name="py-deploy"), spec=spec)
    apps.create_namespaced_deployment("default", deployment)

    def available() -> int:
        status = apps.read_namespaced_deployment("py-deploy", "default").status
        return (status and status.available_replicas) or 0

    eventually(lambda: available() == 1, timeout=90, what="the deployment available")
    apps.patch_namespaced_deployment_scale("py-deploy", "default", {"spec": {"replicas": 2}})
    assert apps.read_namespaced_deployment("py-deploy", "default").spec.replicas == 2
    apps.delete_namespaced_deployment("py-deploy", "default")
    core.delete_namespaced_pod("py-pod", "default")
    eventually(lambda: not core.list_namespaced_pod("default", label_selector="via=python").items, timeout=60,
               what="py-pod gone")  # fmt: skip


def test_the_store_speaks_tls_and_wants_a_client_certificate(cluster: Cluster) -> None:
    layout = json.loads((cluster.home / "data" / "store-layout.json").read_text())
    endpoint = f"https://127.0.0.1:{layout[0]['client_port']}"
    assert "is healthy" in cluster.etcdctl(f"--endpoints={endpoint}", "endpoint", "health").stderr
    env = {**os.environ, "ETCDCTL_API": "3", "ETCDCTL_CACERT": str(cluster.home / "pki" / "ca.crt")}
    anonymous = subprocess.run(["etcdctl", f"--endpoints={endpoint}", "--command-timeout=3s", "get", "/registry",
                                "--prefix", "--keys-only"], capture_output=True, text=True, env=env, timeout=30)  # fmt: skip
    assert anonymous.returncode != 0
