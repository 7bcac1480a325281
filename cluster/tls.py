"""TLS settings every component uses: servers present their certificate and verify client
certificates against the cluster CA; clients verify the server against the CA and present their
own. One place, so every wire (REST, gRPC, the store, kubelets) is configured alike.

Certificates travel as PEM text inside component settings (a component may run on another host
than the one that issued them); Python's ssl module reads a certificate chain only from a file,
so `server_context` writes them to a private temporary directory for the moment it loads them.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

# gRPC clients check the server's certificate for this name rather than for the address they dial
# (components find each other through Ray, by whatever address a host has).
SERVER_NAME = "raykube"


@dataclass(frozen=True)
class Tls:
    """The cluster CA, and one identity's certificate and key, as PEM text."""

    ca: str
    cert: str
    key: str


def server_context(tls: Tls, *, require_client_cert: bool = False) -> ssl.SSLContext:
    """For an HTTPS server: a client certificate is verified if sent (required with `require_client_cert`)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cadata=tls.ca)
    _load_chain(context, tls)
    context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def client_context(tls: Tls) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=tls.ca)
    _load_chain(context, tls)
    return context


def _load_chain(context: ssl.SSLContext, tls: Tls) -> None:
    with tempfile.TemporaryDirectory(prefix="raykube-tls-") as directory:
        cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
        for path, text in ((cert, tls.cert), (key, tls.key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(text)
        context.load_cert_chain(cert, key)


def grpc_server_credentials(tls: Tls, *, require_client_cert: bool = True) -> grpc.ServerCredentials:
    return grpc.ssl_server_credentials(
        [(tls.key.encode(), tls.cert.encode())], root_certificates=tls.ca.encode(),
        require_client_auth=require_client_cert,
    )  # fmt: skip


def grpc_channel_credentials(tls: Tls) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca.encode(), private_key=tls.key.encode(), certificate_chain=tls.cert.encode()
    )


def grpc_channel_options(tls: Tls | None) -> list[tuple[str, str]]:
    """Channel options that go with `tls`: the name the server's certificate is checked for."""
    return [("grpc.ssl_target_name_override", SERVER_NAME)] if tls is not None else []


def open_channel(target: str, tls: Tls | None, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
    """An asyncio gRPC channel to `target`: TLS with this identity's certificate if `tls` is given,
    plaintext otherwise (in-process tests on loopback)."""
    if tls is None:
        return grpc.aio.insecure_channel(target, options=list(options))
    return grpc.aio.secure_channel(
        target, grpc_channel_credentials(tls), options=[*options, *grpc_channel_options(tls)]
    )
