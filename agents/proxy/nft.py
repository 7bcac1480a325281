"""The proxy's one seam to the kernel: nftables transactions through libnftables' JSON API.

Debian's python3-nftables bindings (ctypes over libnftables), not `nft` per rule: a whole sync is
one `json_cmd` call, which the kernel applies atomically or not at all. Needs CAP_NET_ADMIN.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from agents.proxy.ruleset import TABLE, Command, Existing


class NftError(RuntimeError):
    """libnftables refused a transaction; the message is nft's own."""


class Backend(Protocol):
    def apply(self, commands: list[Command]) -> None: ...
    def existing(self) -> Existing: ...
    def delete_table(self) -> bool: ...
    def text(self) -> str: ...


class Nftables:
    """libnftables in this process (its calls block briefly: the proxy runs them in a thread)."""

    def __init__(self) -> None:
        import nftables  # Debian's bindings (python3-nftables), linked into the venv by setup.sh

        self._nft = nftables.Nftables()
        self._nft.set_json_output(True)

    def apply(self, commands: list[Command]) -> None:
        rc, _, error = self._nft.json_cmd({"nftables": commands})
        if rc != 0:
            raise NftError(f"nftables refused the transaction: {error.strip()}")

    def _list(self) -> list[dict[str, Any]]:
        rc, output, _ = self._nft.cmd(f"list table {TABLE['family']} {TABLE['name']}")
        if rc != 0:
            return []  # no table yet
        listed: list[dict[str, Any]] = json.loads(output)["nftables"]
        return listed

    def existing(self) -> Existing:
        listed = self._list()
        chains = frozenset(o["chain"]["name"] for o in listed if "chain" in o)
        sets = frozenset(o[kind]["name"] for o in listed for kind in ("set", "map") if kind in o)
        return Existing(chains, sets)

    def delete_table(self) -> bool:
        """Remove the table (`raykube down`); False if there was none."""
        if not self._list():
            return False
        self.apply([{"delete": {"table": dict(TABLE)}}])
        return True

    def text(self) -> str:
        """The table in nft's own syntax (what `nft -f` would load), for people and benchmarks."""
        self._nft.set_json_output(False)
        try:
            rc, output, error = self._nft.cmd(f"list table {TABLE['family']} {TABLE['name']}")
        finally:
            self._nft.set_json_output(True)
        if rc != 0:
            raise NftError(error.strip())
        return str(output)
