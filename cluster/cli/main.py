"""`raykube`: bring a cluster up and down, and talk to its API server like kubectl does.

Exit codes: 0 success, 1 an error from the server or the cluster (printed kubectl-style on stderr),
2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

from cluster.bootstrap.ray_node import MissingRayToken, apply_ray_env, recorded_ray_token, up_ray_token
from cluster.cli import commands, rollout
from cluster.client import config as client_config
from cluster.client.api import ApiClient
from cluster.errors import ApiError, Invalid

Command = Callable[[ApiClient, argparse.Namespace, IO[str]], Awaitable[int]]


def _duration(text: str) -> float:
    """kubectl-style durations: 90, 90s, 2m, 1h."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 30s, 2m)") from None


def _service_cidr(text: str) -> str:
    """An IPv4 range of 16 to 2^20 addresses (Kubernetes' bounds; kube-dns takes its tenth)."""
    try:
        network = ipaddress.IPv4Network(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid service CIDR {text!r}: {err}") from None
    if not 12 <= network.prefixlen <= 28:
        raise argparse.ArgumentTypeError(f"service CIDR {text!r}: the prefix must be /12 to /28")
    return str(network)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raykube", description="A small, real Kubernetes for lab clusters.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def api_command(name: str, help_text: str, handler: Command) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument(
            "-n", "--namespace", default="", help="namespace (default: the context's, or default)"
        )
        cmd.add_argument("--kubeconfig", default="", help="kubeconfig file (default: $KUBECONFIG, else "
                         "$RAYKUBE_HOME/kubeconfig)")  # fmt: skip
        cmd.add_argument(
            "--context", default="", help="the kubeconfig context to use (default: its current one)"
        )
        cmd.set_defaults(handler=handler)
        return cmd

    up = sub.add_parser(
        "up", help="start a local cluster (or place the components on an existing Ray cluster)"
    )
    up.add_argument(
        "--ray-address", default="", help="an existing Ray cluster (host:port); default: start one here"
    )
    up.add_argument(
        "--ray-port", type=int, default=6379, help="GCS port of the local Ray head (0: any free port)"
    )
    up.add_argument(
        "--apiserver-port", type=int, default=6443, help="API server HTTPS port, kubectl's (0: any free port)"
    )
    up.add_argument(
        "--store-port", type=int, default=2379, help="etcd client port of the store (0: any free port)"
    )
    up.add_argument("--grpc-port", type=int, default=6444, help="API server gRPC port (0: any free port)")
    up.add_argument("--kubelet-port", type=int, default=10250, help="kubelet gRPC port (0: any free port)")
    up.add_argument(
        "--dns-port",
        type=int,
        default=10053,
        help="each host's DNS responder, behind kube-dns (0: any free port)",
    )
    up.add_argument(
        "--service-cidr",
        type=_service_cidr,
        default="10.96.0.0/12",
        help="the Services' virtual IPs (kept after the first up)",
    )
    up.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="address components listen on and advertise (0.0.0.0: all, advertising each host's IP)",
    )
    up.add_argument(
        "--node-monitor-grace-period",
        type=_duration,
        default=20.0,
        help="how long a node may stay silent before it is NotReady (e.g. 40s; Kubernetes: 40s)",
    )
    up.add_argument(
        "--node-name", default="", help="this host's node name when Ray starts here (default: hostname)"
    )
    up.add_argument(
        "--timeout", type=_duration, default=180.0, help="how long to wait for components (e.g. 3m)"
    )

    join = sub.add_parser(
        "join", help="make this machine one more host of a cluster (then `raykube up` on the first)"
    )
    join.add_argument("address", help="the Ray address `raykube up` printed on the first host (host:port)")
    join.add_argument("--node-name", default="", help="this host's node name (default: hostname)")
    join.add_argument("--ray-token-file", type=Path, default=None,
                      help="the cluster's Ray token (the first host's $RAYKUBE_HOME/ray-token); kept in this "
                           "host's RAYKUBE_HOME")  # fmt: skip
    sub.add_parser("leave", help="stop this machine's Ray node started by `raykube join`")

    down = sub.add_parser("down", help="stop every component, remove every container, stop the local Ray")
    down.add_argument("--purge", action="store_true", help="also delete the store's data and the tokens")

    apply = api_command("apply", "create or update objects from a manifest", commands.apply)
    apply.add_argument(
        "-f", "--filename", required=True, help="a YAML/JSON file, a directory, or - for stdin"
    )

    get = api_command("get", "list objects, or show one", commands.get)
    get.add_argument(
        "resource",
        help="pods, nodes, deployments, replicasets, services, endpoints, "
        "endpointslices, namespaces, events, leases (or several: deploy,rs,pods)",
    )
    get.add_argument("name", nargs="?", default="")
    get.add_argument("-o", "--output", default="", help="wide|yaml|json|name|jsonpath=TEMPLATE")
    get.add_argument("-l", "--selector", default="", help="label selector, e.g. app=web,tier!=db")
    get.add_argument("--field-selector", default="", help="field selector, e.g. spec.nodeName=node-1")
    get.add_argument("-A", "--all-namespaces", action="store_true")
    get.add_argument("-w", "--watch", action="store_true", help="after listing, watch for changes")

    desc = api_command("describe", "show details of a pod or node", commands.describe_)
    desc.add_argument("resource")
    desc.add_argument("name")

    delete = api_command("delete", "delete objects (pods terminate gracefully)", commands.delete)
    delete.add_argument("resource", nargs="?", default="")
    delete.add_argument("names", nargs="*")
    delete.add_argument("-f", "--filename", default="")
    delete.add_argument("--grace-period", type=int, default=None, help="seconds; default: the pod's own")
    delete.add_argument(
        "--now", action="store_true", help="signal the containers to stop at once (grace period 1)"
    )
    delete.add_argument(
        "--force",
        action="store_true",
        help="with --grace-period=0: remove the object at once, before the containers stop",
    )
    delete.add_argument(
        "--wait",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="wait until the object is gone (default)",
    )
    delete.add_argument(
        "--timeout", type=_duration, default=0.0, help="how long to wait (default: grace + 60s)"
    )
    delete.add_argument(
        "--cascade",
        choices=("background", "foreground", "orphan"),
        default="background",
        help="what happens to dependents (a Deployment's ReplicaSets, their pods): deleted in the "
        "background (default), before the object (foreground), or kept (orphan)",
    )

    logs = api_command("logs", "print a container's logs", commands.logs)
    logs.add_argument("pod")
    logs.add_argument("-c", "--container", default="")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", type=int, default=0, help="only the last N lines")
    logs.add_argument("-p", "--previous", action="store_true", help="the previous, terminated container")

    wait = api_command("wait", "wait for a condition on an object", commands.wait)
    wait.add_argument("target", help="RESOURCE/NAME, e.g. pod/example-pod")
    wait.add_argument(
        "--for",
        dest="for_",
        required=True,
        help="condition=Ready, jsonpath='{.status.phase}'=Running, or delete",
    )
    wait.add_argument("--timeout", type=_duration, default=30.0, help="e.g. 30s, 2m")

    scale = api_command("scale", "set the replicas of a deployment or replicaset", rollout.scale)
    scale.add_argument("target", help="RESOURCE/NAME, e.g. deployment/web")
    scale.add_argument("name", nargs="?", default="")
    scale.add_argument("--replicas", type=int, required=True)

    roll = api_command("rollout", "manage a deployment's rollout", rollout.rollout)
    roll.add_argument("action", choices=("status", "history", "undo", "restart", "pause", "resume"))
    roll.add_argument("target", help="deployment/NAME")
    roll.add_argument("name", nargs="?", default="")
    roll.add_argument("--to-revision", type=int, default=0, help="undo: the revision to go back to")
    roll.add_argument("-w", "--watch", action=argparse.BooleanOptionalAction, default=True,
                      help="status: wait until the rollout is done (default)")  # fmt: skip
    roll.add_argument("--timeout", type=_duration, default=0.0, help="status: give up after this long")

    expose = api_command("expose", "make a Service for a deployment's pods", commands.expose)
    expose.add_argument("target", help="deployment/NAME (or replicaset/NAME)")
    expose.add_argument("name", nargs="?", default="")
    expose.add_argument("--port", type=int, required=True, help="the Service's port")
    expose.add_argument(
        "--target-port", default="", help="the pods' port: a number or a port name (default: --port)"
    )
    expose.add_argument("--type", choices=("ClusterIP", "NodePort"), default="ClusterIP")
    expose.add_argument("--protocol", choices=("TCP", "UDP", "SCTP"), default="TCP")
    expose.add_argument(
        "--name", dest="service_name", default="", help="the Service's name (default: the target's)"
    )

    api_command("whoami", "show who the API server thinks you are", commands.whoami)
    return parser


def print_error(err: ApiError, out: IO[str]) -> None:
    """kubectl's wording: "Error from server (NotFound): ...", field errors one per line."""
    if isinstance(err, Invalid) and err.causes:
        print(f'The {err.kind} "{err.name}" is invalid:', file=out)
        for cause in err.causes:
            print(f"* {cause}", file=out)
        return
    print(f"Error from server ({err.reason}): {err.message}", file=out)


async def _run_api_command(args: argparse.Namespace) -> int:
    cfg = client_config.load(client_config.raykube_home(), path=args.kubeconfig, context=args.context)
    args.namespace = args.namespace or cfg.namespace
    async with cfg.client() as client:
        handler: Command = args.handler
        return await handler(client, args, sys.stdout)


def parse(argv: list[str] | None) -> argparse.Namespace:
    """Parse like kubectl, where flags may come anywhere: names after a flag (`delete pod --now a b`)
    still join the command's list of names, which argparse alone leaves unrecognized."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        if isinstance(getattr(args, "names", None), list) and not any(e.startswith("-") for e in extra):
            args.names += extra
        else:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _set_ray_auth(home: Path, args: argparse.Namespace) -> None:
    """Ray takes its authentication mode from the environment when it is imported: set it for this
    driver before Ray comes in (up and down join the cluster as a driver)."""
    token = None
    if args.command == "up":
        bind_loopback = args.bind_address.startswith("127.")
        try:
            token = up_ray_token(home, ray_address=args.ray_address, bind_loopback=bind_loopback)
        except MissingRayToken:
            return  # `up` says so, with where to get it
    elif args.command == "down":
        token = recorded_ray_token(home)
    apply_ray_env(token)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        if args.command in ("up", "down", "join", "leave"):
            home = client_config.raykube_home()
            _set_ray_auth(home, args)
            from cluster.cli import lifecycle  # brings Ray along: imported only for these commands

            return lifecycle.COMMANDS[args.command](home, args, sys.stdout)
        return asyncio.run(_run_api_command(args))
    except ApiError as err:
        print_error(err, sys.stderr)
    except client_config.NoConfig as err:
        print(f"error: {err}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
