"""Where the CLI finds its cluster: RAYKUBE_HOME (default ~/.raykube) holds config.json.

`raykube up` writes config.json (the API server's address and the admin's bearer token) with
mode 0600; every other command reads it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


def raykube_home() -> Path:
    return Path(os.environ.get("RAYKUBE_HOME") or Path.home() / ".raykube")


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str


class NoConfig(Exception):
    """No cluster has been brought up from this home."""


def config_path(home: Path) -> Path:
    return home / "config.json"


def load(home: Path) -> ClientConfig:
    path = config_path(home)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoConfig(f"no cluster configured in {home}: run `raykube up` first") from None
    return ClientConfig(server=data["server"], token=data["token"])


def save(home: Path, config: ClientConfig) -> None:
    home.mkdir(parents=True, exist_ok=True)
    path = config_path(home)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(config), out, indent=2)
