"""Run one store node in the foreground: `python -m cluster.store --data-dir DIR [--listen HOST:PORT]`.

Prints `listening on HOST:PORT` once serving (so a parent process can read the picked port) and
stops cleanly on SIGINT/SIGTERM. Used by tests that kill a real process, and by benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from cluster.store.local_replicator import LocalOptions
from cluster.store.server import StoreOptions, start_store_node


async def serve(args: argparse.Namespace) -> None:
    host, _, port = args.listen.rpartition(":")
    options = StoreOptions(name=args.name, local=LocalOptions(snapshot_every=args.snapshot_every))
    node = await start_store_node(Path(args.data_dir), host, int(port), options)
    print(f"listening on {node.address[0]}:{node.address[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stopped = asyncio.create_task(stop.wait())
    failed = asyncio.create_task(node.wait())
    await asyncio.wait({stopped, failed}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    await node.stop()  # re-raises whatever made the node fail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--listen", default="127.0.0.1:2379")
    parser.add_argument("--name", default="store-0")
    parser.add_argument("--snapshot-every", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
