"""Signed evidence bundles: one tar archive an auditor verifies offline with the lab's public key.

Layout of a bundle (an uncompressed tar; `.tar.gz` when the output name ends so):
  MANIFEST.json          format, run id, journal head, catalog id@version, and every other
                         member with its SHA-256 and size
  evidence/...           the evidence directory as it was: journal.jsonl, raw captures and
                         logs, reports/
  catalog/...            the requirement catalog the reports were built with, so that the
                         verdicts can be re-derived with exactly that catalog
  MANIFEST.json.sig      {"algorithm": "Ed25519", "key_id", "signature"}: the lab's Ed25519
                         signature over the bytes of MANIFEST.json

The archive is deterministic: members in a fixed order (manifest, files sorted by path,
signature), mtime 0, uid/gid 0, mode 0644, no user names. The same evidence, catalog and key
give byte-identical bundles (Ed25519 signatures are deterministic). Keys are PEM files as
OpenSSL writes them (`openssl genpkey -algorithm ed25519`; `hilbench bundle keygen`).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import ReportError
from .evidence import JOURNAL_NAME
from .requirement_catalog import DEFAULT_CATALOG_DIR, load_catalog
from .verify import verify_evidence

BUNDLE_FORMAT = {"name": "hilbench-evidence-bundle", "version": 1}
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.json.sig"
EVIDENCE = "evidence"
CATALOG = "catalog"
ALGORITHM = "Ed25519"
_CHUNK = 1 << 20


class BundleError(ReportError):
    """A bundle cannot be made or read (names the file and the reason)."""


class KeyFileError(BundleError):
    """A key file is missing, unreadable or not an Ed25519 key."""


# --- keys ------------------------------------------------------------------------------------

def generate_key(private_path: Path, public_path: Path) -> str:
    """Writes a new Ed25519 key pair (PKCS#8 PEM, mode 0600; SubjectPublicKeyInfo PEM);
    refuses to overwrite either file. Returns the key id (SHA-256 of the raw public key)."""
    private_path, public_path = Path(private_path), Path(public_path)
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path}: already exists; hilbench bundle keygen never overwrites a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(private_pem)
    public_path.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key_id(key.public_key())


def key_id(public_key: Ed25519PublicKey) -> str:
    """SHA-256 hex of the raw 32-byte public key: how a report names the signing key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def load_private_key(path: Path) -> Ed25519PrivateKey:
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    data = _read_key_file(path)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:  # a private key file given by mistake still names the public half
            return load_private_key(path).public_key()
        except KeyFileError:
            raise KeyFileError(f"{path}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def _read_key_file(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: cannot read the key ({error.strerror})") from None


# --- making a bundle ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Member:
    name: str  # path inside the archive
    source: Path


def create_bundle(evidence_dir: Path, private_key: Path, out: Path,
                  catalog_dir: Path | None = None) -> dict[str, Any]:
    """Packs and signs the evidence directory into `out`; returns the manifest.

    Refuses a journal whose hash chain is broken (that is not evidence to sign); an unsealed
    journal (an interrupted run) is bundled as it is, and verification says so."""
    evidence_dir = Path(evidence_dir)
    key = load_private_key(private_key)
    checked = verify_evidence(evidence_dir)
    run_id = _run_id(evidence_dir) if checked["journal"]["records"] else None
    state = checked["journal"]["state"]
    if state in ("missing", "broken"):
        raise BundleError(f"{evidence_dir}: the journal is {state} "
                          f"({checked['journal'].get('problem') or 'no journal'}); "
                          "a bundle signs evidence, not a damaged copy of it")
    catalog_source = Path(catalog_dir) if catalog_dir is not None else DEFAULT_CATALOG_DIR
    catalog = load_catalog(catalog_source)
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    being_written = {out.resolve(), partial.resolve()}  # a bundle written into the evidence
    members = [m for m in _members(evidence_dir, EVIDENCE)
               if m.source.resolve() not in being_written]
    members = sorted(members + list(_members(catalog_source, CATALOG)), key=lambda m: m.name)
    files = [{"path": m.name, "sha256": _sha256_file(m.source), "size": m.source.stat().st_size}
             for m in members]
    manifest = {
        "format": BUNDLE_FORMAT,
        "run_id": run_id,
        "journal": {"path": f"{EVIDENCE}/{JOURNAL_NAME}", "state": state,
                    "records": checked["journal"]["records"],
                    "head_hash": checked["journal"]["head_hash"]},
        "catalog": {"id": catalog.id, "version": catalog.version, "label": catalog.label,
                    "path": CATALOG},
        "hilbench_version": _hilbench_version(),
        "files": files,
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    signature = {"algorithm": ALGORITHM, "key_id": key_id(key.public_key()),
                 "signature": base64.b64encode(key.sign(manifest_bytes)).decode("ascii")}
    signature_bytes = _signature_file(signature)

    out.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("wb") as raw:
        if out.name.endswith((".gz", ".tgz")):
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
                _write_tar(zipped, manifest_bytes, members, signature_bytes)
        else:
            _write_tar(raw, manifest_bytes, members, signature_bytes)
    partial.replace(out)
    return manifest


def _members(directory: Path, prefix: str) -> Iterator[_Member]:
    """Every regular file under `directory`, sorted by path; anything else is refused."""
    paths = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in names:
            paths.append(Path(root) / name)
    for path in sorted(paths, key=lambda p: p.relative_to(directory).as_posix()):
        relative = path.relative_to(directory).as_posix()
        if path.is_symlink() or not path.is_file():
            raise BundleError(f"{path}: not a regular file (a bundle holds copies, never links "
                              "or devices); copy it into the evidence directory")
        yield _Member(f"{prefix}/{relative}", path)


def _write_tar(stream: Any, manifest: bytes, members: list[_Member],
               signature: bytes) -> None:
    with tarfile.open(fileobj=stream, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST, manifest)
        for member in members:
            info = _info(member.name, member.source.stat().st_size)
            with member.source.open("rb") as source:
                tar.addfile(info, source)
        _add_bytes(tar, SIGNATURE, signature)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_info(name, len(data)), io.BytesIO(data))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run_id(evidence_dir: Path) -> str | None:
    from .evidence import read_run

    started = read_run(evidence_dir).run_started
    value = started.data.get("run_id") if started else None
    return value if isinstance(value, str) else None


def _hilbench_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hilbench")
    except PackageNotFoundError:
        return None


# --- reading a bundle -----------------------------------------------------------------------

@dataclass
class Unpacked:
    """A bundle extracted into `root` (a temporary directory the caller owns)."""

    root: Path
    manifest_bytes: bytes | None
    signature_bytes: bytes | None
    digests: dict[str, str]  # member name -> SHA-256 of its bytes as extracted
    problems: list[str]  # members refused (links, absolute paths, duplicates)


@dataclass(frozen=True)
class UnpackLimits:
    """What an auditor's machine accepts from a bundle nobody vouches for yet (it is read
    before its signature is checked): bounds on members, bytes per member, bytes in all (a
    gzip bomb expands without end) and the two members read into memory. Counted as the
    bytes actually come out of the archive, not as its headers claim. Far above a real
    bundle: a run of 1,000,000 records is a journal of about 0.5 GB."""

    members: int = 100_000
    member_bytes: int = 8 << 30
    total_bytes: int = 32 << 30
    manifest_bytes: int = 64 << 20
    signature_bytes: int = 64 << 10


def _bounded_read(source: Any, limit: int, what: str) -> Iterator[bytes]:
    """The member's bytes in chunks; BundleError as soon as more than `limit` came out."""
    read = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        read += len(chunk)
        if read > limit:
            raise BundleError(f"{what}: more than {limit:,} bytes; refused (a bundle this "
                              "large is not one hilbench makes)")
        yield chunk


def unpack(bundle: Path, root: Path, limits: UnpackLimits = UnpackLimits()) -> Unpacked:
    """Extracts the regular files of a bundle into `root`, hashing them as they are written.
    Never follows or creates links, never writes outside `root`, never beyond `limits`
    (BundleError naming the bound)."""
    digests: dict[str, str] = {}
    problems: list[str] = []
    manifest = signature = None
    total = 0
    try:
        with tarfile.open(bundle, mode="r:*") as tar:
            for count, info in enumerate(tar, start=1):
                if count > limits.members:
                    raise BundleError(f"{bundle}: more than {limits.members:,} members; refused")
                name = info.name
                posix = PurePosixPath(name)
                if not info.isfile():
                    problems.append(f"{name}: not a regular file ({_kind(info)}); refused")
                    continue
                if posix.is_absolute() or ".." in posix.parts or name in digests:
                    problems.append(f"{name}: {'a duplicate' if name in digests else 'an unsafe'}"
                                    " member name; refused")
                    continue
                source = tar.extractfile(info)
                assert source is not None  # a regular file always has data
                if name in (MANIFEST, SIGNATURE):
                    limit = limits.manifest_bytes if name == MANIFEST else limits.signature_bytes
                    data = b"".join(_bounded_read(source, limit, f"{bundle}: {name}"))
                    total += len(data)
                    digests[name] = hashlib.sha256(data).hexdigest()
                    if name == MANIFEST:
                        manifest = data
                    else:
                        signature = data
                    continue
                target = root / posix
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    for chunk in _bounded_read(source, limits.member_bytes, f"{bundle}: {name}"):
                        total += len(chunk)
                        if total > limits.total_bytes:
                            raise BundleError(f"{bundle}: more than {limits.total_bytes:,} bytes "
                                              "in all; refused")
                        digest.update(chunk)
                        out.write(chunk)
                digests[name] = digest.hexdigest()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise BundleError(f"{bundle}: not a readable bundle archive ({error})") from None
    return Unpacked(root=root, manifest_bytes=manifest, signature_bytes=signature,
                    digests=digests, problems=problems)


def _kind(info: tarfile.TarInfo) -> str:
    if info.issym() or info.islnk():
        return "a link"
    if info.isdir():
        return "a directory"
    return "a special file"


def _signature_file(signature: dict[str, Any]) -> bytes:
    return (json.dumps(signature, indent=2, sort_keys=True) + "\n").encode("utf-8")


def check_signature(manifest: bytes | None, signature: bytes | None,
                    public_key: Ed25519PublicKey) -> dict[str, Any]:
    expected_id = key_id(public_key)
    result: dict[str, Any] = {"ok": False, "algorithm": ALGORITHM, "key_id": expected_id,
                              "signed_by": None, "problem": ""}
    if manifest is None or signature is None:
        result["problem"] = f"the bundle has no {MANIFEST if manifest is None else SIGNATURE}"
        return result
    try:
        parsed = json.loads(signature)
        raw = base64.b64decode(parsed["signature"], validate=True)
        result["signed_by"] = str(parsed.get("key_id"))
        if parsed.get("algorithm") != ALGORITHM:
            raise ValueError(f"algorithm {parsed.get('algorithm')!r}, not {ALGORITHM}")
        # Written canonically (sorted keys, indent 2): any other byte, in the key id or the
        # layout, is an alteration even where the signature itself still verifies.
        # Base64 of 64 bytes leaves 4 unused bits in its last character: re-encode to see them.
        if set(parsed) != {"algorithm", "key_id", "signature"}:
            raise ValueError(f"fields {sorted(parsed)}, not algorithm, key_id, signature")
        if signature != _signature_file(parsed) or \
                base64.b64encode(raw).decode("ascii") != parsed["signature"]:
            raise ValueError("not as written at signing (altered)")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        result["problem"] = f"{SIGNATURE} cannot be read ({error})"
        return result
    try:
        public_key.verify(raw, manifest)
    except InvalidSignature:
        if result["signed_by"] != expected_id:
            result["problem"] = (f"signed by another key ({str(result['signed_by'])[:16]}…), not "
                                 f"by the key given ({expected_id[:16]}…)")
        else:
            result["problem"] = f"the signature does not match {MANIFEST} (altered after signing)"
        return result
    result["ok"] = True
    return result


def check_manifest(unpacked: Unpacked) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Every member against the manifest: (result, parsed manifest or None)."""
    result: dict[str, Any] = {"ok": False, "files": 0, "mismatch": [], "missing": [],
                              "unlisted": [], "refused": list(unpacked.problems), "problem": ""}
    if unpacked.manifest_bytes is None:
        result["problem"] = f"the bundle has no {MANIFEST}"
        return result, None
    try:
        manifest = json.loads(unpacked.manifest_bytes)
        listed = {str(f["path"]): str(f["sha256"]) for f in manifest["files"]}
        if manifest.get("format", {}).get("name") != BUNDLE_FORMAT["name"]:
            raise ValueError(f"format {manifest.get('format')!r}")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        result["problem"] = f"{MANIFEST} cannot be read ({error})"
        return result, None
    present = {n: d for n, d in unpacked.digests.items() if n not in (MANIFEST, SIGNATURE)}
    result["files"] = len(listed)
    result["mismatch"] = sorted(n for n, d in listed.items() if n in present and present[n] != d)
    result["missing"] = sorted(n for n in listed if n not in present)
    result["unlisted"] = sorted(n for n in present if n not in listed)
    result["ok"] = not (result["mismatch"] or result["missing"] or result["unlisted"]
                        or result["refused"])
    return result, manifest


def temporary_root() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="hilbench-bundle-")
