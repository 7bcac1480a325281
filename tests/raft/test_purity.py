"""The Raft core stays pure: no module of the package imports I/O, clocks, threads or the RPC stack."""

from __future__ import annotations

import re
from pathlib import Path

import cluster.store.raft

FORBIDDEN = re.compile(r"^(import|from) (ray|grpc|asyncio|socket|time|os|threading)\b", re.MULTILINE)


def test_core_modules_import_nothing_impure() -> None:
    package = Path(cluster.store.raft.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert any(p.name == "core.py" for p in modules)
    offenders = {p.name: FORBIDDEN.findall(p.read_text()) for p in modules}
    assert not {name: found for name, found in offenders.items() if found}
