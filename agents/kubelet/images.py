"""Image pull policy: make a container's image present, or say why it is not (a waiting reason).

    Never         present, or ErrImageNeverPull (no pull is ever tried)
    IfNotPresent  present, or pull
    Always        pull every time a container starts (the registry answers fast when nothing changed)
An empty policy defaults as the API server does: Always for `:latest` or untagged images,
IfNotPresent otherwise. A failed pull is ErrImagePull and starts a back-off per image (10 s doubling
to 5 min); attempts inside the back-off answer ImagePullBackOff without touching the registry.

Called by sync_pod on the pod worker's task; pulls of different pods may overlap (the runtime
deduplicates layers). The back-off lives in memory, per kubelet.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from agents.kubelet.backoff import Backoff
from agents.kubelet.plan import Waiting
from agents.kubelet.runtime import ImagePullFailed, Runtime
from raykube.v1 import pod_pb2

ALWAYS, IF_NOT_PRESENT, NEVER = "Always", "IfNotPresent", "Never"
ERR_IMAGE_PULL = "ErrImagePull"
IMAGE_PULL_BACK_OFF = "ImagePullBackOff"
ERR_IMAGE_NEVER_PULL = "ErrImageNeverPull"
Note = Callable[[str, str, str], None]  # (type, reason, message): an Event about the pod


def _no_note(type: str, reason: str, message: str) -> None:
    pass


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none or is pinned by digest)."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else ""


def pull_policy(container: pod_pb2.Container) -> str:
    if container.image_pull_policy:
        return container.image_pull_policy
    if "@" in container.image:
        return IF_NOT_PRESENT
    return ALWAYS if image_tag(container.image) in ("", "latest") else IF_NOT_PRESENT


class ImagePuller:
    def __init__(self, runtime: Runtime, clock: Callable[[], float], backoff: Backoff | None = None):
        self._runtime = runtime
        self._clock = clock
        self._backoff = backoff or Backoff()

    async def ensure(self, container: pod_pb2.Container, note: Note = _no_note) -> Waiting | None:
        """None when the image is there to start `container` from; otherwise why not. `note` hears
        what happened, as the kubelet's Events say it (Pulling, Pulled, Failed, BackOff)."""
        image, policy = container.image, pull_policy(container)
        if policy != ALWAYS and await self._runtime.image_present(image):
            note("Normal", "Pulled", f'Container image "{image}" already present on machine')
            return None
        if policy == NEVER:
            message = f'Container image "{image}" is not present with pull policy of Never'
            note("Warning", ERR_IMAGE_NEVER_PULL, message)
            return Waiting(ERR_IMAGE_NEVER_PULL, message)
        now = self._clock()
        remaining = self._backoff.remaining(image, None, now)
        if remaining > 0:
            note("Normal", "BackOff", f'Back-off pulling image "{image}"')
            return Waiting(IMAGE_PULL_BACK_OFF, f'Back-off pulling image "{image}"', retry_after=remaining)
        note("Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            await self._runtime.pull_image(image)
        except ImagePullFailed as err:
            delay = self._backoff.next(image, now)
            note("Warning", "Failed", f'Failed to pull image "{image}": {err}')
            return Waiting(ERR_IMAGE_PULL, f'failed to pull image "{image}": {err}', retry_after=delay)
        self._backoff.reset(image)
        note("Normal", "Pulled", f'Successfully pulled image "{image}" in {time.monotonic() - started:.3f}s')
        return None
