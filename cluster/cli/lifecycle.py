"""The CLI's cluster commands: `raykube up`, `down`, `join`, `leave` (the steps are cluster/bootstrap).

Each prints progress as it goes and the outcome at the end (up: a table of where each component
runs), and returns the exit code: 0, or 1 with "error: ..." when the cluster could not be brought up.
Imported only for these commands, since it brings Ray along.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import IO

from cluster.bootstrap import lifecycle
from cluster.bootstrap.placement import Ports
from cluster.cli.printers import table


def _reporter(out: IO[str]) -> lifecycle.Report:
    def report(line: str) -> None:
        print(line, file=out, flush=True)

    return report


def up(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    ports = Ports(
        bind_address=args.bind_address,
        apiserver=args.apiserver_port,
        grpc=args.grpc_port,
        store=args.store_port,
        kubelet=args.kubelet_port,
        dns=args.dns_port,
        service_cidr=args.service_cidr,
        node_monitor_grace_period=args.node_monitor_grace_period,
    )
    try:
        result = lifecycle.up(
            home,
            ports,
            _reporter(out),
            ray_address=args.ray_address,
            ray_port=args.ray_port,
            host_name=args.node_name,
            timeout=args.timeout,
        )
    except lifecycle.BootstrapError as err:
        print(f"error: {err}", file=out)
        return 1
    rows = [["COMPONENT", "HOST", "ADDRESS", "PID"]]
    rows += [[p.name, p.host, p.address or "-", str(p.pid)] for p in result.placed]
    print(table(rows), file=out)
    print(
        f"\nThe cluster is up; its API servers: {', '.join(result.servers)}."
        "\n`raykube get nodes` to look around."
        f"\nFor kubectl: export KUBECONFIG={result.kubeconfig}",
        file=out,
    )
    return 0


def join(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    started = time.monotonic()
    try:
        name = lifecycle.join(home, args.address, args.node_name, args.ray_token_file)
    except lifecycle.BootstrapError as err:
        print(f"error: {err}", file=out)
        return 1
    print(
        f"Ray: host {name} joined the cluster at {args.address} ({time.monotonic() - started:.1f}s)", file=out
    )
    print("Run `raykube up` on the first host to place this host's kubelet.", file=out)
    return 0


def leave(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    if lifecycle.leave(home):
        print("This host left the cluster.", file=out)
    else:
        print("No Ray node of raykube runs from this home.", file=out)
    return 0


def down(home: Path, args: argparse.Namespace, out: IO[str]) -> int:
    lifecycle.down(home, _reporter(out), purge=args.purge)
    print("The cluster is down.", file=out)
    return 0


COMMANDS = {"up": up, "down": down, "join": join, "leave": leave}
