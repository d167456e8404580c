"""Judges a TLS probe result (hilbench.probe_tls) against a baseline given as data.

The baseline is a TOML file (default: tls-baseline.toml beside this module, after NIST SP
800-52r2 and BSI TR-02102-2); each rule carries the clause it comes from and the research
notes' confidence flag, and every finding cites them. The probe measures, this module judges:
nothing here opens a socket. `now` is explicit so a judgement is reproducible.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._core import ConfigError

DEFAULT_BASELINE = Path(__file__).with_name("tls-baseline.toml")


@dataclass(frozen=True)
class Finding:
    """One rule of the baseline applied to one probe result."""

    rule: str  # e.g. "versions.forbidden"
    verdict: str  # "pass", "fail" or "cannot_test"
    clause: str  # the baseline's public source for the rule
    confidence: str  # [V] / [M] ... as the research notes give it
    detail: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def load_baseline(path: Path = DEFAULT_BASELINE) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            baseline = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the TLS baseline: {error}") from None
    for table in ("versions", "ciphers", "certificate", "extensions"):
        if not isinstance(baseline.get(table), dict):
            raise ConfigError(f"{path}: the TLS baseline has no [{table}] table")
    return baseline


def _time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def accepted_suites(result: dict[str, Any]) -> dict[str, list[str]]:
    """IANA names of the accepted cipher suites, per accepted protocol version."""
    return {
        version: [suite["name"] for suite in entry.get("cipher_suites", [])]
        for version, entry in result["protocols"].items()
        if entry["status"] == "accepted"
    }


def judge(
    result: dict[str, Any], baseline: dict[str, Any], now: datetime | None = None
) -> list[Finding]:
    """Every rule of `baseline` applied to `result`, in baseline order."""
    now = now or datetime.now(timezone.utc)
    findings: list[Finding] = []

    def add(rule: str, table: dict[str, Any], key: str, ok: bool | None, detail: str) -> None:
        verdict = "cannot_test" if ok is None else ("pass" if ok else "fail")
        findings.append(
            Finding(rule, verdict, table[f"{key}_clause"], table[f"{key}_confidence"], detail)
        )

    protocols = result["protocols"]
    versions = baseline["versions"]
    accepted = [name for name, entry in protocols.items() if entry["status"] == "accepted"]
    untested = [name for name in versions["forbidden"]
                if protocols.get(name, {}).get("status") in ("cannot_test", "timeout", None)]
    bad = [name for name in versions["forbidden"] if name in accepted]
    add("versions.forbidden", versions, "forbidden", not bad,
        f"accepted: {', '.join(bad)}" if bad else
        "none accepted" + (f" (not testable here: {', '.join(untested)})" if untested else ""))
    good = [name for name in versions["required_any"] if name in accepted]
    add("versions.required", versions, "required", bool(good),
        f"accepted: {', '.join(good) or 'none of ' + ', '.join(versions['required_any'])}")

    ciphers = baseline["ciphers"]
    suites = accepted_suites(result)
    weak = sorted({s for names in suites.values() for s in names
                   if any(fragment in s for fragment in ciphers["forbidden_fragments"])})
    add("ciphers.forbidden", ciphers, "forbidden", not weak,
        f"accepted: {', '.join(weak)}" if weak else "no forbidden suite accepted")
    if ciphers.get("require_forward_secrecy", False):
        static = sorted({s for version, names in suites.items() if version != "TLSv1.3"
                         for s in names if not ("_ECDHE_" in s or "_DHE_" in s)})
        add("ciphers.forward_secrecy", ciphers, "forward_secrecy", not static,
            f"without forward secrecy: {', '.join(static)}" if static
            else "every accepted suite has forward secrecy")

    cert_rules = baseline["certificate"]
    cert = result.get("certificate")
    if cert is None:
        for key in ("min_key", "signature", "validity", "max_validity", "self_signed",
                    "host_name"):
            add(f"certificate.{key}", cert_rules, key, None, "no handshake succeeded")
    else:
        key_type, bits = cert.get("key_type", "?"), int(cert.get("key_bits", 0))
        minimum = {"RSA": cert_rules["min_rsa_bits"], "EC": cert_rules["min_ec_bits"]}.get(key_type)
        add("certificate.min_key", cert_rules, "min_key",
            bits >= minimum if minimum is not None else None,
            f"{key_type} {bits} bits (minimum {minimum})")
        sig_bits = cert.get("signature_security_bits")
        add("certificate.signature", cert_rules, "signature",
            None if sig_bits is None else sig_bits >= cert_rules["min_signature_security_bits"],
            f"{cert.get('signature_algorithm')}: {sig_bits}-bit security")
        not_before, not_after = _time(cert["not_before"]), _time(cert["not_after"])
        valid = not_before <= now <= not_after
        add("certificate.validity", cert_rules, "validity", valid,
            f"valid {cert['not_before']} .. {cert['not_after']}"
            + ("" if valid else f"; not valid at {now:%Y-%m-%dT%H:%M:%SZ}"))
        days = (not_after - not_before).days
        add("certificate.max_validity", cert_rules, "max_validity",
            days <= cert_rules["max_validity_days"],
            f"{days} days (at most {cert_rules['max_validity_days']})")
        if cert_rules.get("self_signed_forbidden", False):
            add("certificate.self_signed", cert_rules, "self_signed", not cert["self_signed"],
                "self-signed" if cert["self_signed"] else f"issued by {cert.get('issuer')}")
        if cert_rules.get("host_name_must_match", False):
            add("certificate.host_name", cert_rules, "host_name", bool(cert["host_name_match"]),
                f"{result.get('server_name')} "
                + ("matches" if cert["host_name_match"] else "does not match")
                + f" {cert.get('subject')}")

    extensions = baseline["extensions"]
    if extensions.get("secure_renegotiation_required", False):
        status = result["secure_renegotiation"]["status"]
        add("extensions.secure_renegotiation", extensions, "secure_renegotiation",
            True if status == "not_applicable" else status == "supported",
            f"{status} ({result['secure_renegotiation'].get('version') or 'TLS 1.3 only'})")
    if extensions.get("compression_forbidden", False):
        status = result["compression"]["status"]
        add("extensions.compression", extensions, "compression",
            None if status == "cannot_test" else status != "enabled",
            f"{status}: {result['compression'].get('detail', '')}")
    return findings


def failed(findings: list[Finding]) -> list[Finding]:
    return [finding for finding in findings if finding.verdict == "fail"]
