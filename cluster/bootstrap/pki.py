"""The cluster's certificates: one CA, a serving certificate per server, a client certificate per
identity (CN = user, O = groups, as Kubernetes reads them), made with the `cryptography` library.

`up` keeps them in RAYKUBE_HOME/pki (keys 0600) and issues again what is missing, no longer matches
what is wanted (names, addresses, identity), or expires within RENEW_BEFORE: running `up` again
before expiry rotates them. Keys are ECDSA P-256 (small and fast; every TLS stack here speaks it).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
LEAF_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Identity:
    """What a certificate says: who (and for a server, which names it answers to)."""

    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, PEM files on disk."""

    cert: Path
    key: Path

    def read(self) -> tuple[bytes, bytes]:
        return self.cert.read_bytes(), self.key.read_bytes()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


def _name(identity: Identity) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in identity.organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )


class CertificateAuthority:
    def __init__(self, pair: Pair):
        self.pair = pair
        cert_pem, key_pem = pair.read()
        self.certificate = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self._key = key

    @classmethod
    def ensure(cls, directory: Path, name: str = "raykube-ca") -> CertificateAuthority:
        """The CA in `directory` (ca.crt, ca.key), created on first use."""
        pair = Pair(directory / "ca.crt", directory / "ca.key")
        if not pair.cert.exists() or not pair.key.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
            signs = {"digital_signature": True, "key_cert_sign": True, "crl_sign": True}
            others = ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
                      "encipher_only", "decipher_only")  # fmt: skip
            usage = x509.KeyUsage(**signs, **dict.fromkeys(others, False))
            cert = (
                _builder(subject, subject, key, CA_DAYS)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(usage, critical=True)
                .sign(key, hashes.SHA256())
            )
            _write_private(pair.key, _key_pem(key))
            pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return cls(pair)

    def issue(self, identity: Identity, days: int = LEAF_DAYS) -> tuple[bytes, bytes]:
        """A new certificate for `identity`, signed by this CA, and its key (PEM)."""
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] * identity.server
        usages += [ExtendedKeyUsageOID.CLIENT_AUTH] * identity.client
        builder = (
            _builder(_name(identity), self.certificate.subject, key, days)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in identity.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(a)) for a in identity.ip_addresses]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)

    def ensure_pair(self, directory: Path, name: str, identity: Identity) -> Pair:
        """`name`.crt/.key in `directory` for `identity`: kept while they match it and are not due for
        renewal, issued again otherwise."""
        pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
        if pair.cert.exists() and pair.key.exists() and self._still_good(pair.cert.read_bytes(), identity):
            return pair
        cert_pem, key_pem = self.issue(identity)
        _write_private(pair.key, key_pem)
        pair.cert.write_bytes(cert_pem)
        return pair

    def _still_good(self, cert_pem: bytes, identity: Identity) -> bool:
        cert = x509.load_pem_x509_certificate(cert_pem)
        if cert.issuer != self.certificate.subject or cert.not_valid_after_utc - _now() < RENEW_BEFORE:
            return False
        return describe(cert) == identity


def describe(cert: x509.Certificate) -> Identity:
    """What a certificate says, as an Identity (to compare with what is wanted, or to authenticate)."""
    subject = cert.subject
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    organizations = tuple(str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    try:
        alternatives = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns: Sequence[str] = alternatives.get_values_for_type(x509.DNSName)
        ips = tuple(str(a) for a in alternatives.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        dns, ips = (), ()
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    server, client = ExtendedKeyUsageOID.SERVER_AUTH in usages, ExtendedKeyUsageOID.CLIENT_AUTH in usages
    return Identity(str(common[0].value) if common else "", organizations, tuple(dns), ips, server, client)
