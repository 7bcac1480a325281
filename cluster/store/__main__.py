"""Run one store replica in the foreground, with etcd-like flags.

    python -m cluster.store --name store-0 --data-dir DIR --listen-client 127.0.0.1:2379 \\
        --initial-cluster store-0=127.0.0.1:2380,store-1=127.0.0.1:22380,store-2=127.0.0.1:32380 \\
        --initial-cluster-state new

Without --initial-cluster the replica is a one-member cluster. --listen-peer defaults to this
member's address in --initial-cluster. Prints `listening on HOST:PORT` (the client address) once
serving, so a parent process can read a picked port, and stops cleanly on SIGINT/SIGTERM; a
replica removed from the cluster exits by itself. It runs as a cluster's store component does: on
uvloop, with the garbage collector tuned (cluster/gc_policy.py). Used by tests that kill real
processes, and by benchmarks. --enable-fault-injection (TEST ONLY) serves StoreAdmin/SetFaults on
the client port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import replace
from pathlib import Path

import uvloop

from cluster import gc_policy
from cluster.store.replication.members import address_of
from cluster.store.replication.raft_replicator import RaftOptions
from cluster.store.server import StoreOptions, start_store_node


def parse_cluster(spec: str) -> dict[str, str]:
    """`name=host:port,...` (etcd's --initial-cluster; http:// prefixes allowed) -> {name: host:port}."""
    peers = {}
    for item in filter(None, spec.split(",")):
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise argparse.ArgumentTypeError(f"expected name=host:port, got {item!r}")
        peers[name] = address_of(url)
    return peers


def options_from(args: argparse.Namespace) -> StoreOptions:
    defaults = RaftOptions()
    raft = replace(
        defaults,
        tick_interval=args.tick_ms / 1000,
        election_ticks=args.election_ticks,
        request_timeout=args.request_timeout,
        snapshot_every=args.snapshot_every,
        catchup_entries=args.catchup_entries,
        pacing=replace(defaults.pacing, linger=args.batch_linger_ms / 1000),
    )
    return StoreOptions(
        name=args.name,
        peers=args.initial_cluster,
        peer_listen=args.listen_peer,
        advertise_client=args.advertise_client and address_of(args.advertise_client),
        initial_cluster_state=args.initial_cluster_state,
        raft=raft,
        fault_injection=args.enable_fault_injection,
    )


async def serve(args: argparse.Namespace) -> None:
    collector = gc_policy.Collector()
    collector.serving()
    host, _, port = address_of(args.listen_client).rpartition(":")
    node = await start_store_node(Path(args.data_dir), host, int(port), options_from(args))
    collector.ready()
    print(f"listening on {node.address[0]}:{node.address[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    ended = asyncio.create_task(node.wait())
    await asyncio.wait({stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    await node.stop()  # re-raises whatever made the node fail


def main() -> None:
    defaults = RaftOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--name", default="store-0")
    parser.add_argument("--listen-client", "--listen", default="127.0.0.1:2379", help="host:port for clients")
    parser.add_argument("--listen-peer", default=None, help="host:port for peers")
    parser.add_argument(
        "--advertise-client", default=None, help="host:port for clients, if not --listen-client"
    )
    parser.add_argument("--initial-cluster", type=parse_cluster, default={}, help="name=host:port,...")
    parser.add_argument("--initial-cluster-state", choices=("new", "existing"), default="new")
    parser.add_argument("--tick-ms", type=float, default=defaults.tick_interval * 1000)
    parser.add_argument("--election-ticks", type=int, default=defaults.election_ticks)
    parser.add_argument("--request-timeout", type=float, default=defaults.request_timeout, help="seconds")
    parser.add_argument("--snapshot-every", type=int, default=defaults.snapshot_every)
    parser.add_argument("--catchup-entries", type=int, default=defaults.catchup_entries)
    parser.add_argument(
        "--batch-linger-ms",
        type=float,
        default=defaults.pacing.linger * 1000,
        help="how long a Ready may wait for more work while the replica is CPU-bound (0: never)",
    )
    parser.add_argument("--enable-fault-injection", action="store_true", help="TEST ONLY")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))  # as in a cluster, where Ray runs its actors on uvloop


if __name__ == "__main__":
    main()
