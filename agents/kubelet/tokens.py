"""ServiceAccount tokens in pods: what the kubelet mounts at /var/run/secrets/kubernetes.io/serviceaccount.

For each pod that automounts its ServiceAccount token (the default), the kubelet asks the API for
a token bound to the pod (TokenRequest) and writes it, the cluster CA and the namespace into a
directory of its own (<root>/<pod uid>/serviceaccount, mode 0700), bind-mounted read-only into
every container. A token is asked for again once 80% of its life has passed (kubelet's rule);
files are replaced atomically, so a process reading one never sees half of it. The directory goes
with the pod.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from agents.kubelet.runtime import Mount
from cluster.client.api import ApiClient
from raykube.v1 import pod_pb2

log = logging.getLogger(__name__)
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
REFRESH_AT = 0.8


class ServiceAccountTokens:
    def __init__(self, client: ApiClient, root: Path, ca: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._root = root
        self._ca = ca
        self._clock = clock
        self._due: dict[str, float] = {}  # pod uid -> when to ask for a new token

    @staticmethod
    def wanted(pod: pod_pb2.Pod) -> bool:
        spec = pod.spec
        return not (
            spec.HasField("automount_service_account_token") and not spec.automount_service_account_token
        )

    def _directory(self, uid: str) -> Path:
        return self._root / uid / "serviceaccount"

    async def ensure(self, pod: pod_pb2.Pod) -> Mount | None:
        """The mount for `pod`'s token, its files fresh (an ApiError if the API refuses a token)."""
        if not self.wanted(pod):
            return None
        uid = pod.metadata.uid
        directory = self._directory(uid)
        if self._clock() >= self._due.get(uid, 0.0) or not (directory / "token").exists():
            now = self._clock()
            account = pod.spec.service_account_name or "default"
            token, expires = await self._client.create_token(
                pod.metadata.namespace, account, pod_name=pod.metadata.name, pod_uid=uid
            )
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name, text in (("token", token), ("ca.crt", self._ca), ("namespace", pod.metadata.namespace)):
                _replace(directory / name, text)
            self._due[uid] = now + (expires - now) * REFRESH_AT
            log.info("pod %s/%s: service account token written", pod.metadata.namespace, pod.metadata.name)
        return Mount(str(directory), MOUNT_PATH, read_only=True)

    def forget(self, uid: str) -> None:
        self._due.pop(uid, None)
        shutil.rmtree(self._root / uid, ignore_errors=True)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
    os.replace(temporary, path)
