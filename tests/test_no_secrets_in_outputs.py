"""No private key, password or session secret of the lab appears in any journal or report
(issue 12). A whole session of the security suite and the IEC 62056-21 suite (which opens
programming mode with the unit's own P1 password) runs on the embedded bench; then every file
of the evidence folder — journal, logs, every report format — and a signed bundle made with a
lab key are searched for: the unit's password, the lab's signing key (PEM and raw bytes, hex,
base64), and any PEM private-key block."""

from __future__ import annotations

import base64
import subprocess
import sys
import tarfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from hilbench.bench import embedded_profile_dir
from hilbench.emulation import child_environment

from hilbench_testing import ROOT, run_pytest

UNIT_PASSWORD = "58204719"  # devices/profiles/em1-meter.toml [iec62056] password


def _secrets(key: ed25519.Ed25519PrivateKey) -> dict[str, bytes]:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                            serialization.NoEncryption())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    body = b"".join(pem.splitlines()[1:-1])
    return {"unit P1 password": UNIT_PASSWORD.encode(), "signing key (raw)": raw,
            "signing key (hex)": raw.hex().encode(), "signing key (base64)": base64.b64encode(raw),
            "signing key (PEM body)": body, "a PEM private key": b"PRIVATE KEY-----"}


def test_no_lab_secret_in_journal_reports_or_bundle(tmp_path: Path) -> None:
    assert f'password = "{UNIT_PASSWORD}"' in (embedded_profile_dir() / "em1-meter.toml").read_text()
    evidence = tmp_path / "evidence"
    result = run_pytest(["suites/security", "suites/interface/test_iec62056_mode_c.py",
                         "--evidence-dir", str(evidence)])
    assert result.returncode == 0, result.stdout[-3000:]

    key = ed25519.Ed25519PrivateKey.generate()
    key_path = tmp_path / "lab-key.pem"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    bundle = tmp_path / "bundle.tar"
    made = subprocess.run([sys.executable, "-m", "hilbench.cli", "bundle", str(evidence), "--key",
                           str(key_path), "-o", str(bundle)], cwd=ROOT, env=child_environment(),
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr

    outputs: dict[str, bytes] = {str(p.relative_to(evidence)): p.read_bytes()
                                 for p in evidence.rglob("*") if p.is_file()}
    with tarfile.open(bundle) as archive:
        for member in archive.getmembers():
            extracted = archive.extractfile(member)
            if extracted is not None:
                outputs[f"bundle:{member.name}"] = extracted.read()
    assert any(name.endswith("journal.jsonl") for name in outputs)
    assert any(name.startswith("reports/") for name in outputs)
    leaks = [(what, name) for name, data in outputs.items()
             for what, secret in _secrets(key).items() if secret in data]
    assert leaks == []
