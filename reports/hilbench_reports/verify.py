"""Offline verification of an evidence directory: the journal's chain and seal, and every file
the journal names together with its SHA-256 (bench file, device profiles, captures, ...).

A file is named by a pair of keys in a record's data: `<name>` + `<name>_sha256`, or one of
`path`/`source`/`file` + `sha256`. Paths relative to the evidence directory are part of the
evidence: missing or altered, they fail verification. Absolute paths point outside the
evidence (e.g. the lab's profile library): they are checked when present and reported, but an
auditor's copy of the evidence is not expected to hold them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from .evidence import JOURNAL_NAME, Record, Run, read_run

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_PATH_KEYS = ("path", "source", "file")
EMBEDDED = "embedded"  # the bench source of the embedded emulated bench: not a file


_FAILING = ("missing", "mismatch", "bad-hash")


def verify_evidence(evidence_dir: Path) -> dict[str, Any]:
    """Verifies the journal and the files it names; `ok` is the overall verdict."""
    directory = Path(evidence_dir)
    if not (directory / JOURNAL_NAME).is_file():
        return {"ok": False, "journal": {"path": JOURNAL_NAME, "state": "missing", "ok": False,
                                         "problem": f"no {JOURNAL_NAME} in the evidence directory"},
                "files": [], "warnings": []}
    run = read_run(directory)
    return {**integrity(directory, run), "last_record": last_record(run),
            "interrupted_tests": [t.nodeid for t in run.tests if t.outcome == "unfinished"]}


def last_record(run: Run) -> dict[str, Any] | None:
    """The last record that verifies: where a killed run stopped."""
    if not run.records:
        return None
    record = run.records[-1]
    return {"seq": record.seq, "type": record.type, "wall": record.wall, "hash": record.hash}


def integrity(directory: Path, run: Run, check_external: bool = True) -> dict[str, Any]:
    """The integrity verdict of an already read run (what every report shows at its top).

    Reports pass check_external=False: they are a pure function of the evidence directory and
    the catalog, so files outside the evidence directory are listed but not read."""
    files = check_named_files(directory, run.records, check_external)
    warnings = [f"{f['path']} (named by record {f['seq']} at {f['key']}): the file outside the "
                "evidence directory no longer has the SHA-256 the run recorded"
                for f in files if f["status"] == "external-mismatch"]
    ok = run.check.ok and not any(f["status"] in _FAILING for f in files)
    return {"ok": ok, "journal": run.check.as_dict(), "files": files, "warnings": warnings}


def check_named_files(directory: Path, records: tuple[Record, ...],
                      check_external: bool = True) -> list[dict[str, Any]]:
    out = []
    for record in records:
        for key, name, expected in _named_files(record.data):
            out.append({"seq": record.seq, "key": key, "path": name, "sha256": expected,
                        **_file_status(directory, name, expected, check_external)})
    return out


def _named_files(data: Any, prefix: str = "") -> Iterator[tuple[str, str, str | None]]:
    """(key path, file name, expected sha256) for every file a record's data names."""
    if isinstance(data, list):
        for index, item in enumerate(data):
            yield from _named_files(item, f"{prefix}[{index}]")
        return
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if isinstance(value, (dict, list)):
            yield from _named_files(value, f"{prefix}.{key}" if prefix else key)
        elif key.endswith("_sha256") and isinstance(data.get(key[:-7]), str):
            yield f"{prefix}.{key[:-7]}" if prefix else key[:-7], data[key[:-7]], value
        elif key == "sha256":
            name_key = next((k for k in _PATH_KEYS if isinstance(data.get(k), str)), None)
            if name_key is not None:
                yield f"{prefix}.{name_key}" if prefix else name_key, data[name_key], value


def _file_status(directory: Path, name: str, expected: Any,
                 check_external: bool) -> dict[str, Any]:
    if name == EMBEDDED:
        return {"status": "embedded", "sha256_actual": None}
    if expected is None:
        return {"status": "no-hash", "sha256_actual": None}
    if not isinstance(expected, str) or not _HEX64.match(expected):
        return {"status": "bad-hash", "sha256_actual": None}
    external = PurePosixPath(name).is_absolute() or ".." in PurePosixPath(name).parts
    if external and not check_external:
        return {"status": "external-unchecked", "sha256_actual": None}
    path = Path(name) if external else directory / name
    if not path.is_file():
        return {"status": "external-missing" if external else "missing", "sha256_actual": None}
    actual = _sha256_file(path)
    if actual == expected:
        return {"status": "external" if external else "ok", "sha256_actual": actual}
    return {"status": "external-mismatch" if external else "mismatch", "sha256_actual": actual}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
