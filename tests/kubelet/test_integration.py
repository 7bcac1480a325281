"""End to end on one machine: real store + API server + the Kubelet on real Podman.

A Pod bound to this test's node (spec.nodeName set) is created through the API; the kubelet runs
it in Podman, the container answers on the pod IP, its logs come back through the API server's
proxy to the kubelet, and deleting the pod removes its containers and then the object. A second
pod crashes: it is restarted once at once, then backs off (CrashLoopBackOff), and the previous
instance's logs are still there.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from agents.kubelet.kubelet import Kubelet
from agents.kubelet.runtime import RuntimePods
from cluster.api import manifest
from cluster.api.resources import PODS
from cluster.client.api import ApiClient
from cluster.errors import ApiError, NotFound
from raykube.v1 import pod_pb2, serviceaccount_pb2
from tests.harness import control_plane
from tests.kubelet.waiting import eventually, http_get

KUBELET_TOKEN = "kubelet-test-token"


def bound_pod(name: str, node: str, grace: int, containers: str) -> pod_pb2.Pod:
    """A Pod bound to `node`, from YAML; `containers` is the YAML list of its containers."""
    text = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\n"
    text += (
        f"spec:\n  nodeName: {node}\n  terminationGracePeriodSeconds: {grace}\n  containers:\n{containers}"
    )
    [pod] = manifest.load(text)
    assert isinstance(pod, pod_pb2.Pod)
    return pod


def web_pod(node: str, image: str) -> pod_pb2.Pod:
    return bound_pod(
        "web",
        node,
        2,
        f"""
  - name: web
    image: {image}
    imagePullPolicy: Never
    command: [sh, -c]
    args: ['echo hello > /www/index.html; echo started; exec httpd -f -p 8080 -h /www']
    ports: [{{containerPort: 8080}}]
    readinessProbe: {{httpGet: {{path: /, port: 8080}}, periodSeconds: 1}}
""",
    )


def crashing_pod(node: str, image: str) -> pod_pb2.Pod:
    containers = (
        f"  - {{name: app, image: {image}, imagePullPolicy: Never, command: [sh, -c, 'echo ran; exit 3']}}\n"
    )
    return bound_pod("crash", node, 1, containers)


async def pod_status(admin: ApiClient, name: str) -> pod_pb2.PodStatus:
    pod = await admin.get(PODS, "default", name)
    assert isinstance(pod, pod_pb2.Pod)
    return pod.status


async def deleted(admin: ApiClient, name: str) -> bool:
    try:
        await admin.get(PODS, "default", name)
    except NotFound:
        return True
    return False


def test_pod_lifecycle_on_real_podman(
    tmp_path: Path, podman_node: str, node_name: str, busybox_image: str
) -> None:
    async def scenario() -> None:
        async with (
            control_plane(tmp_path, kubelet_token=KUBELET_TOKEN) as plane,
            plane.client() as admin,
            plane.client() as kubelet_client,
        ):
            kubelet = Kubelet(
                node_name,
                kubelet_client,
                podman_node,
                "127.0.0.1:0",
                node_ip="127.0.0.1",
                api_token=KUBELET_TOKEN,
            )
            task = asyncio.create_task(kubelet.run())
            try:
                await asyncio.wait_for(kubelet.ready.wait(), 20)
                created_at = time.monotonic()
                await admin.create(web_pod(node_name, busybox_image))
                running_after = ready_after = 0.0
                while not ready_after:
                    web = await pod_status(admin, "web")
                    if web.phase == "Running" and web.pod_ip and not running_after:
                        running_after = time.monotonic() - created_at
                    if any(c.type == "Ready" and c.status == "True" for c in web.conditions):
                        ready_after = time.monotonic() - created_at
                    assert time.monotonic() - created_at < 30, f"pod not ready: {web}"
                    await asyncio.sleep(0.05)
                print(f"\ncreate -> Running {running_after:.2f}s, -> Ready {ready_after:.2f}s")
                await admin.create(crashing_pod(node_name, busybox_image))
                assert web.pod_ip.startswith("10.88.")
                [status] = web.container_statuses
                assert status.container_id.startswith("podman://") and status.ready
                assert await http_get(web.pod_ip, 8080) == (200, b"hello\n")
                logs = b"".join([chunk async for chunk in admin.logs("default", "web")])
                assert logs == b"started\n"

                async def crash_looping() -> bool:
                    statuses = (await pod_status(admin, "crash")).container_statuses
                    return bool(statuses) and statuses[0].state.waiting.reason == "CrashLoopBackOff"

                await eventually(crash_looping, timeout=20)
                [app] = (await pod_status(admin, "crash")).container_statuses
                assert app.restart_count == 1 and app.last_state.terminated.exit_code == 3
                previous = [chunk async for chunk in admin.logs("default", "crash", previous=True)]
                assert previous == [b"ran\n"]

                deleted_at = time.monotonic()
                await admin.delete(PODS, "default", "web")
                await admin.delete(PODS, "default", "crash")
                await eventually(lambda: deleted(admin, "web"), timeout=30)
                print(f"delete -> gone {time.monotonic() - deleted_at:.2f}s")
                await eventually(lambda: deleted(admin, "crash"), timeout=30)
                assert await kubelet.runtime.list_pods() == RuntimePods()
            finally:
                await kubelet.shutdown(remove_pods=True)
                assert task.done()

    asyncio.run(scenario())


def test_pods_get_their_service_account_token_mounted(
    tmp_path: Path, podman_node: str, node_name: str, busybox_image: str
) -> None:
    secrets = "/var/run/secrets/kubernetes.io/serviceaccount"
    script = f"cat {secrets}/namespace; echo; cat {secrets}/token; echo; ls {secrets}; sleep 3600"

    def pod(name: str, *, automount: bool = True) -> pod_pb2.Pod:
        command = f"[sh, -c, '{script}']"
        made = bound_pod(name, node_name, 1, f"  - {{name: app, image: {busybox_image}, imagePullPolicy: Never, "
                                             f"command: {command}}}\n")  # fmt: skip
        if not automount:
            made.spec.automount_service_account_token = False
        return made

    async def scenario() -> None:
        async with control_plane(tmp_path) as plane, plane.client() as admin:
            account = serviceaccount_pb2.ServiceAccount(api_version="v1", kind="ServiceAccount")
            account.metadata.name, account.metadata.namespace = "default", "default"
            await admin.create(account)
            tokens = tmp_path / "kubelet" / "pods"
            kubelet = Kubelet(node_name, plane.client(), podman_node, "127.0.0.1:0", node_ip="127.0.0.1",
                              state_dir=tmp_path / "kubelet")  # fmt: skip
            task = asyncio.create_task(kubelet.run())
            seen: dict[str, str] = {}

            async def printed(name: str, marker: str) -> bool:
                try:
                    seen[name] = b"".join([c async for c in admin.logs("default", name)]).decode()
                except ApiError:
                    return False
                return marker in seen[name]

            try:
                await asyncio.wait_for(kubelet.ready.wait(), 20)
                await admin.create(pod("reader"))
                await admin.create(pod("opted-out", automount=False))
                await eventually(lambda: printed("reader", "token"), timeout=30)
                namespace, token, *listed = seen["reader"].split()
                assert namespace == "default" and sorted(listed) == ["ca.crt", "namespace", "token"]
                async with aiohttp.ClientSession() as session:
                    url = f"{plane.rest_url}/apis/authentication.k8s.io/v1/selfsubjectreviews"
                    async with session.post(
                        url, json={}, headers={"Authorization": f"Bearer {token}"}
                    ) as answer:
                        who = (await answer.json())["status"]["userInfo"]["username"]
                assert who == "system:serviceaccount:default:default"
                await eventually(lambda: printed("opted-out", "No such file"), timeout=30)
                for name in ("reader", "opted-out"):
                    await admin.delete(PODS, "default", name)
                await eventually(lambda: _all_deleted(admin, "reader", "opted-out"), timeout=30)
                assert not tokens.exists() or not list(tokens.iterdir())  # the token went with its pod
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())


async def _all_deleted(admin: ApiClient, *names: str) -> bool:
    return all([await deleted(admin, name) for name in names])
