"""What an attacker (or a careless lab) does to a bundle, for the tamper tests: read its
members, change them, write the archive again — re-signed with a key of their choosing, or
with the old signature kept. (A uniquely named module, importable from tests/ as well.)"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hilbench_reports.bundle import MANIFEST, SIGNATURE, key_id

Members = dict[str, bytes]


def read_members(bundle: Path) -> Members:
    with tarfile.open(bundle, "r:*") as tar:
        out: Members = {}
        for info in tar:
            source = tar.extractfile(info)
            assert source is not None
            out[info.name] = source.read()
        return out


def write_members(members: Members, out: Path) -> Path:
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def resign(members: Members, key: Ed25519PrivateKey) -> None:
    """Recomputes every digest in the manifest and signs it again (an insider with a key)."""
    manifest = json.loads(members[MANIFEST])
    for entry in manifest["files"]:
        data = members.get(entry["path"])
        if data is not None:
            entry["sha256"], entry["size"] = hashlib.sha256(data).hexdigest(), len(data)
    manifest["files"] = [e for e in manifest["files"] if e["path"] in members]
    text = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    members[MANIFEST] = text
    members[SIGNATURE] = (json.dumps({
        "algorithm": "Ed25519", "key_id": key_id(key.public_key()),
        "signature": base64.b64encode(key.sign(text)).decode()}, indent=2, sort_keys=True)
        + "\n").encode()


def tampered(bundle: Path, out: Path, edit: Callable[[Members], None],
             key: Ed25519PrivateKey | None = None) -> Path:
    members = read_members(bundle)
    edit(members)
    if key is not None:
        resign(members, key)
    return write_members(members, out)


def journal_lines(members: Members) -> list[bytes]:
    return members["evidence/journal.jsonl"].splitlines(keepends=True)
