"""Test-time certificates for TLS endpoints of the bench (the `cryptography` package, OpenSSL
underneath): a lab CA and a server certificate it issues, or a self-signed one, valid or
expired. Written into a folder the caller owns (a pytest tmp_path); private keys are written
with mode 0600 and never journaled or reported (tests/test_no_secrets_in_outputs.py)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class ServerCertificate:
    cert: Path  # PEM, leaf first then the issuing CA (if any)
    key: Path  # PEM, PKCS#8, unencrypted, mode 0600
    ca: Path | None  # the lab CA's certificate (None for a self-signed leaf)
    not_before: datetime
    not_after: datetime


def _key(key_type: str) -> PrivateKey:
    if key_type == "RSA":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "EC":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key type {key_type!r}: RSA or EC")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "hilbench lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


def make_server_certificate(folder: Path, host: str, *, key_type: str = "EC",
                            expired: bool = False, self_signed: bool = False,
                            now: datetime | None = None, stem: str = "server") -> ServerCertificate:
    """A server certificate for `host` (IP address or DNS name, also its subjectAltName):
    issued by a fresh lab CA unless `self_signed`; valid 30 days around `now`, or expired
    (ended a day before `now`)."""
    now = now or datetime.now(timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    if expired:
        not_before, not_after = now - timedelta(days=60), now - timedelta(days=1)
    else:
        not_before, not_after = now - timedelta(days=1), now + timedelta(days=30)
    leaf_key = _key(key_type)
    try:
        san: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        san = x509.DNSName(host)
    issuer_key: PrivateKey = leaf_key
    issuer_name = _name(host)
    ca_pem = b""
    ca_path = None
    if not self_signed:
        issuer_key = _key("EC")
        issuer_name = _name("hilbench lab test CA")
        ca_cert = (x509.CertificateBuilder().subject_name(issuer_name).issuer_name(issuer_name)
                   .public_key(issuer_key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=2))
                   .not_valid_after(now + timedelta(days=365))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                   .sign(issuer_key, hashes.SHA256()))
        ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
        ca_path = folder / f"{stem}-ca.pem"
        ca_path.write_bytes(ca_pem)
    leaf = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(issuer_name)
            .public_key(leaf_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([san]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(issuer_key, hashes.SHA256()))
    cert_path = folder / f"{stem}-cert.pem"
    key_path = folder / f"{stem}-key.pem"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca_pem)
    _write_key(key_path, leaf_key)
    return ServerCertificate(cert_path, key_path, ca_path, not_before.replace(microsecond=0),
                             not_after.replace(microsecond=0))
