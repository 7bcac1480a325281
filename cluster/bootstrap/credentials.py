"""The cluster's credentials: the API server's token file in RAYKUBE_HOME, one token per identity.

Tokens are made once and kept: a later `up` (after a host joined) only adds the identities that
are missing, so running components keep working. Files holding secrets are written with mode 0600.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from cluster.apiserver import auth

TOKENS_FILE = "tokens.csv"
ADMIN_USER = "admin"
KUBELET_CLIENT_USER = "system:apiserver-kubelet-client"  # the API server, when it calls kubelets


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only (mode 0600 before anything is written)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)


def node_user(host: str) -> str:
    return auth.NODE_USER_PREFIX + host


def ensure_tokens(home: Path, hosts: list[str]) -> dict[str, auth.UserInfo]:
    """The token file, extended with a token for every identity the cluster needs (created once)."""
    path = home / TOKENS_FILE
    tokens = auth.parse_token_file(path.read_text()) if path.exists() else {}
    have = {user.name for user in tokens.values()}
    wanted = [
        auth.UserInfo(ADMIN_USER, ADMIN_USER, frozenset({auth.ADMIN_GROUP})),
        auth.UserInfo(auth.SCHEDULER_USER, auth.SCHEDULER_USER),
        auth.UserInfo(auth.CONTROLLER_MANAGER_USER, auth.CONTROLLER_MANAGER_USER),
        auth.UserInfo(auth.PROXY_USER, auth.PROXY_USER),
        auth.UserInfo(KUBELET_CLIENT_USER, KUBELET_CLIENT_USER),
        *(auth.UserInfo(node_user(h), node_user(h), frozenset({auth.NODES_GROUP})) for h in hosts),
    ]
    for user in wanted:
        if user.name not in have:
            tokens[secrets.token_urlsafe(24)] = user
    write_private(path, auth.format_token_file(tokens))
    return tokens


def token_of(tokens: dict[str, auth.UserInfo], user: str) -> str:
    return next(token for token, info in tokens.items() if info.name == user)
