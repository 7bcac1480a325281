"""The cluster's certificates: what `up` issues, kept private, kept while fit, renewed before expiry."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509

from cluster.bootstrap import credentials, pki
from cluster.bootstrap.pki import CertificateAuthority, Identity


def _identities(addresses: list[str]) -> dict[str, Identity]:
    return credentials.identities(["lab1", "lab2"], addresses, "10.96.0.1")


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_up_issues_every_identity_with_private_keys(tmp_path: Path) -> None:
    credentials.ensure_pki(tmp_path, _identities(["192.0.2.10"]))
    directory = tmp_path / credentials.PKI_DIR
    for key in [*directory.glob("*.key"), directory / "service-account.key"]:
        assert key.stat().st_mode & 0o777 == 0o600, key
    apiserver = pki.describe(_cert(directory / "apiserver.crt"))
    assert {"kubernetes.default.svc.cluster.local", "raykube", "localhost"} <= set(apiserver.dns_names)
    assert {"127.0.0.1", "192.0.2.10", "10.96.0.1"} <= set(apiserver.ip_addresses) and apiserver.server
    node = pki.describe(_cert(directory / "kubelet-lab2.crt"))
    assert (node.common_name, node.organizations, node.server, node.client) == (
        "system:node:lab2", ("system:nodes",), True, True)  # fmt: skip
    admin = pki.describe(_cert(directory / "admin.crt"))
    assert (admin.organizations, admin.server, admin.client) == (("system:masters",), False, True)
    ca = CertificateAuthority.ensure(directory)
    for name in ("apiserver", "admin", "kubelet-lab1", "store", "scheduler", "proxy"):
        assert _cert(directory / f"{name}.crt").issuer == ca.certificate.subject


def test_certificates_are_kept_while_fit_and_issued_again_when_hosts_change_or_expiry_nears(
    tmp_path: Path,
) -> None:
    credentials.ensure_pki(tmp_path, _identities(["192.0.2.10"]))
    directory = tmp_path / credentials.PKI_DIR
    first = {p.name: p.read_bytes() for p in directory.glob("*.crt")}
    credentials.ensure_pki(tmp_path, _identities(["192.0.2.10"]))
    assert {p.name: p.read_bytes() for p in directory.glob("*.crt")} == first  # nothing re-issued

    credentials.ensure_pki(tmp_path, _identities(["192.0.2.10", "192.0.2.11"]))  # a host joined
    assert "192.0.2.11" in pki.describe(_cert(directory / "apiserver.crt")).ip_addresses
    assert (directory / "admin.crt").read_bytes() == first["admin.crt"]  # client certs name no address

    ca = CertificateAuthority.ensure(directory)
    soon, key = ca.issue(pki.describe(_cert(directory / "admin.crt")), days=10)  # as if a year had passed
    (directory / "admin.crt").write_bytes(soon)
    (directory / "admin.key").write_bytes(key)
    credentials.ensure_pki(tmp_path, _identities(["192.0.2.10", "192.0.2.11"]))  # `up` again rotates it
    renewed = _cert(directory / "admin.crt")
    left = renewed.not_valid_after_utc - datetime.datetime.now(datetime.UTC)
    assert left > datetime.timedelta(days=300) and (directory / "admin.crt").read_bytes() != soon
