"""Who a replica is: its member ID, fixed the first time its data directory is used.

- A founding member's ID is derived from the cluster name and its member name (`derive_id`), so
  every founder computes the same IDs for everyone from the same peer list.
- A member added later (MemberAdd) got its ID from the cluster; it starts empty with
  initial_cluster_state "existing" and finds that ID by asking the other members for the member
  list and looking for its own peer URL (`discover`), as etcd matches peer URLs on join.

Either way the ID is written to `<data dir>/member` (atomically) before any Raft state, and a
restart reads it from there: the flags a node restarts with no longer decide who it is. The
file also says whether the member founded the cluster, so a founder that crashed before its
first write may bootstrap again, and a joined member never does.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from cluster.store.errors import StorageError
from cluster.store.replication.members import Members, url_of
from cluster.store.replication.wal import fsync_dir
from cluster.tls import Tls, open_channel
from raykube.etcd.etcdserverpb import rpc_pb2
from raykube.store.v1 import store_pb2, store_pb2_grpc

log = logging.getLogger(__name__)

_FILE = "member"


def derive_id(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


@dataclass(frozen=True)
class Identity:
    member_id: int
    founder: bool


def load(data_dir: Path) -> Identity | None:
    path = data_dir / _FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return Identity(int(data["member_id"], 16), bool(data["founder"]))
    except (ValueError, KeyError, TypeError) as err:
        raise StorageError(f"{path}: unreadable member identity ({err})") from err


def save(data_dir: Path, identity: Identity) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / _FILE
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as f:
        json.dump({"member_id": f"{identity.member_id:x}", "founder": identity.founder}, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.rename(path)
    fsync_dir(data_dir)


async def discover(
    own_peer_address: str,
    peers: Mapping[str, str],
    cluster_id: int,
    *,
    timeout: float,
    tls: Tls | None = None,
) -> tuple[int, list[rpc_pb2.Member]]:
    """Ask the other peers for the member list until one lists `own_peer_address`; (our ID, members).

    Raises RuntimeError if no peer lists us within `timeout` seconds (the
    operator has not run MemberAdd for this address).
    """
    others = [address for address in peers.values() if address != own_peer_address]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        for address in others:
            async with open_channel(address, tls) as channel:
                try:
                    resp = await store_pb2_grpc.StorePeerStub(channel).Members(
                        store_pb2.MembersRequest(), timeout=1.0
                    )
                except grpc.aio.AioRpcError as err:
                    log.info("asking %s for the member list: %s", address, err.code().name)
                    continue
            if resp.cluster_id != cluster_id:
                raise RuntimeError(f"peer {address} belongs to another cluster ({resp.cluster_id:x})")
            me = Members(resp.members).with_peer_url(url_of(own_peer_address))
            if me is not None:
                return me.ID, list(resp.members)
        if loop.time() >= deadline:
            raise RuntimeError(
                f"no member lists peer URL {url_of(own_peer_address)}: add it first (MemberAdd), "
                "then start it with initial_cluster_state=existing"
            )
        await asyncio.sleep(0.2)
