"""ServiceAccount tokens: JWTs the API server signs (ES256, its service-account key) and accepts as
bearer tokens, as Kubernetes' bound service account tokens.

A token names its ServiceAccount (and, when bound, the pod it was made for) by name and uid; it
authenticates as system:serviceaccount:<namespace>:<name> (groups system:serviceaccounts and
system:serviceaccounts:<namespace>) while unexpired and while that ServiceAccount and pod still
exist with those uids, checked in the watch caches, so deleting either revokes it. PyJWT does the
encoding and the signature, expiry and audience checks.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cluster.api import resources
from cluster.apiserver.auth import UserInfo
from cluster.errors import Unauthorized

ISSUER = AUDIENCE = "https://kubernetes.default.svc.cluster.local"
PREFIX = "system:serviceaccount:"
GROUP = "system:serviceaccounts"
DEFAULT_SECONDS, MIN_SECONDS, MAX_SECONDS = 3600, 600, 86400


def new_signing_key() -> str:
    """A fresh ECDSA P-256 key, PEM (in-process API servers that were given none)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()  # fmt: skip


@dataclass(frozen=True)
class Bound:
    """Whom a token is for: a ServiceAccount, and the pod it is bound to (empty name: none)."""

    namespace: str
    account: str
    account_uid: str
    pod: str = ""
    pod_uid: str = ""


class ServiceAccountTokens:
    def __init__(self, signing_key: str, caches: Mapping[str, Any], clock: Any = time.time):
        self._private = serialization.load_pem_private_key(signing_key.encode(), password=None)
        self._public = self._private.public_key()
        self._caches = caches
        self._clock = clock

    def issue(self, bound: Bound, seconds: int = DEFAULT_SECONDS) -> tuple[str, int]:
        """A signed token for `bound`, valid `seconds` (clamped to 10 minutes .. a day); (token, expiry)."""
        now = int(self._clock())
        expires = now + min(max(seconds or DEFAULT_SECONDS, MIN_SECONDS), MAX_SECONDS)
        claims: dict[str, Any] = {
            "iss": ISSUER, "aud": [AUDIENCE], "sub": f"{PREFIX}{bound.namespace}:{bound.account}",
            "iat": now, "nbf": now, "exp": expires,
            "kubernetes.io": {"namespace": bound.namespace,
                              "serviceaccount": {"name": bound.account, "uid": bound.account_uid}},
        }  # fmt: skip
        if bound.pod:
            claims["kubernetes.io"]["pod"] = {"name": bound.pod, "uid": bound.pod_uid}
        return jwt.encode(claims, self._private, algorithm="ES256"), expires  # type: ignore[arg-type]

    def authenticate(self, token: str) -> UserInfo | None:
        """The ServiceAccount a token speaks for; None if it is not one of ours; Unauthorized if it is
        one that is no longer good (expired, or its ServiceAccount or pod gone)."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return None
        if header.get("alg") != "ES256":
            return None
        try:
            claims = jwt.decode(token, self._public, algorithms=["ES256"], audience=AUDIENCE, issuer=ISSUER,  # type: ignore[arg-type]
                                options={"require": ["exp", "sub"]})  # fmt: skip
        except jwt.InvalidTokenError as err:
            raise Unauthorized(f"Unauthorized: invalid service account token: {err}") from None
        info = claims.get("kubernetes.io") or {}
        namespace, account = info.get("namespace", ""), info.get("serviceaccount") or {}
        if not self._alive(resources.SERVICEACCOUNTS, namespace, account):
            raise Unauthorized("Unauthorized: the token's service account no longer exists")
        if "pod" in info and not self._alive(resources.PODS, namespace, info["pod"]):
            raise Unauthorized("Unauthorized: the pod the token was bound to no longer exists")
        name = f"{PREFIX}{namespace}:{account.get('name', '')}"
        return UserInfo(name, str(account.get("uid", "")), frozenset({GROUP, f"{GROUP}:{namespace}"}))

    def _alive(self, resource: resources.Resource[Any], namespace: str, ref: Mapping[str, Any]) -> bool:
        found = self._caches[resource.name].objects.get(resource.key(namespace, str(ref.get("name", ""))))
        return found is not None and found.metadata.uid == ref.get("uid")
