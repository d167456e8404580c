"""`hilbench verify` as an auditor uses it: an evidence directory or a signed bundle, checked
offline, with one verdict and a plain account of what was checked (docs/verify.md).

For a bundle: the Ed25519 signature over the manifest (with the public key given), every
member's SHA-256 against the manifest (nothing altered, missing or added), the journal's hash
chain and seal, the files the journal names, and every verdict re-derived from the journal
with the bundle's own catalog and compared with the bundled reports. For a directory: the
same without the signature and the manifest, re-deriving with this hilbench's catalog.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .bundle import (CATALOG, EVIDENCE, BundleError, check_manifest, check_signature,
                     load_public_key, temporary_root, unpack)
from .evidence import read_run
from .model import test_counts
from .rederive import rederive
from .verify import verify_evidence

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2  # a usage error, a key that cannot be read: nothing was verified


def this_version() -> str | None:
    try:
        return version("hilbench")
    except PackageNotFoundError:
        return None


def verify_target(path: Path, key: Path | None = None, verdicts: bool = True) -> dict[str, Any]:
    """Verifies an evidence directory or a bundle file; `ok` is the verdict. `verdicts=False`
    skips re-deriving the reports (then `ok` speaks for integrity and signature only).

    Raises BundleError (a KeyFileError for the key) when nothing can be verified: a bundle
    without --key, a key that is not an Ed25519 public key."""
    path = Path(path)
    if path.is_dir():
        result = _directory(path, verdicts)
        if key is not None:
            result["notes"].append("--key applies to bundles; a directory carries no signature")
        return result
    if not path.exists():
        raise BundleError(f"{path}: no such evidence directory or bundle")
    if key is None:
        raise BundleError(f"{path}: a bundle is verified against the lab's public key: "
                          "give --key PUBLIC.pem")
    return _bundle(path, load_public_key(key), verdicts)


def _directory(path: Path, verdicts: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {"kind": "directory", "path": str(path), **verify_evidence(path),
                              "notes": []}
    _add_run(result, path)
    if not verdicts:
        result["verdicts"] = _no_verdicts("not re-derived", ok=True)
    elif result["journal"]["state"] == "missing":
        result["verdicts"] = _no_verdicts("no journal")
    else:
        result["verdicts"] = _rederive(path, None, result["run"].get("hilbench_version"))
    result["ok"] = bool(result["ok"] and result["verdicts"]["ok"])
    return result


def _bundle(path: Path, public_key: Any, verdicts: bool = True) -> dict[str, Any]:
    with temporary_root() as scratch:
        root = Path(scratch)
        try:
            unpacked = unpack(path, root)
        except BundleError as error:
            return {"kind": "bundle", "path": str(path), "ok": False, "problem": str(error),
                    "notes": []}
        signature = check_signature(unpacked.manifest_bytes, unpacked.signature_bytes, public_key)
        manifest_check, manifest = check_manifest(unpacked)
        evidence = root / EVIDENCE
        result: dict[str, Any] = {"kind": "bundle", "path": str(path), "signature": signature,
                                  "manifest": manifest_check, **verify_evidence(evidence),
                                  "notes": []}
        result["catalog"] = (manifest or {}).get("catalog")
        _add_run(result, evidence)
        catalog_dir = root / CATALOG
        if not verdicts:
            result["verdicts"] = _no_verdicts("not re-derived", ok=True)
        elif result["journal"]["state"] == "missing":
            result["verdicts"] = _no_verdicts("no journal in the bundle")
        elif not (catalog_dir / "catalog.toml").is_file():
            result["verdicts"] = _no_verdicts("no catalog in the bundle")
        else:
            result["verdicts"] = _rederive(evidence, catalog_dir,
                                           (manifest or {}).get("hilbench_version"))
        result["ok"] = bool(signature["ok"] and manifest_check["ok"] and result["ok"]
                            and result["verdicts"]["ok"])
        return result


def _rederive(evidence: Path, catalog_dir: Path | None, built_by: Any) -> dict[str, Any]:
    try:
        return rederive(evidence, catalog_dir, built_by=built_by if isinstance(built_by, str)
                        else None, this_version=this_version())
    except Exception as error:  # a bundled catalog or report is untrusted input as well
        return _no_verdicts(f"the verdicts cannot be re-derived: {error}")


def _no_verdicts(why: str, ok: bool = False) -> dict[str, Any]:
    return {"ok": ok, "compared": False, "files": 0, "verdicts": 0, "mismatches": [],
            "notes": [], "problem": why}


def _add_run(result: dict[str, Any], evidence: Path) -> None:
    """Who ran what: the run's header and its test counts (for the person reading)."""
    result["run"] = {}
    if result["journal"]["state"] == "missing":
        return
    try:
        run = read_run(evidence)
    except Exception as error:  # an unreadable journal is already a failed check above
        result["notes"].append(f"the run cannot be summarised: {error}")
        return
    started = run.run_started.data if run.run_started else {}
    raw_bench = started.get("bench")
    bench: dict[str, Any] = raw_bench if isinstance(raw_bench, dict) else {}
    result["run"] = {
        "run_id": started.get("run_id"), "hilbench_version": started.get("hilbench_version"),
        "started": run.records[0].wall if run.records else None,
        "emulated": bool(bench.get("emulated")) or any(bool(d.data.get("emulated"))
                                                        for d in run.duts),
        "tests": test_counts(run.tests),
    }


# --- for a person ---------------------------------------------------------------------------

def describe(result: dict[str, Any]) -> str:
    """The verdict and what was checked, in plain words (what `hilbench verify` prints)."""
    lines = [f"hilbench verify: {result['path']} ({result['kind']})"]
    if "problem" in result and "journal" not in result:
        lines += [f"  archive     FAILED — {result['problem']}", "", "VERDICT: NOT VERIFIED"]
        return "\n".join(lines) + "\n"
    if result["kind"] == "bundle":
        lines.append(_line("signature", result["signature"]["ok"], _signature_text(result)))
        lines.append(_line("manifest", result["manifest"]["ok"], _manifest_text(result["manifest"])))
        catalog = result.get("catalog") or {}
        if catalog:
            lines.append(f"  {'catalog':<11} {catalog.get('label')} (bundled; the verdicts are "
                         "re-derived with it)")
    lines.append(_line("journal", result["journal"]["ok"], _journal_text(result)))
    lines.append(_line("named files", not any(f["status"] in ("missing", "mismatch", "bad-hash")
                                              for f in result["files"]), _files_text(result)))
    lines.append(_line("verdicts", result["verdicts"]["ok"], _verdicts_text(result["verdicts"])))
    for mismatch in result["verdicts"]["mismatches"][:50]:
        lines.append(f"      {mismatch['file']}: {mismatch['item']}: the report says "
                     f"{mismatch['report']}, the journal says {mismatch['journal']}")
    if len(result["verdicts"]["mismatches"]) > 50:
        lines.append(f"      … and {len(result['verdicts']['mismatches']) - 50} more (--json)")
    run = result.get("run") or {}
    if run:
        counts = ", ".join(f"{n} {o.replace('_', ' ')}" for o, n in run["tests"].items() if n)
        lines.append(f"  run         {run.get('run_id')} started {run.get('started')}, "
                     f"hilbench {run.get('hilbench_version')}; tests: {counts or 'none'}")
        if run.get("emulated"):
            lines.append("              EMULATED bench — not certification evidence")
    for warning in result.get("warnings", []):
        lines.append(f"  warning     {warning}")
    for note in result.get("notes", []) + result["verdicts"].get("notes", []):
        lines.append(f"  note        {note}")
    lines += ["", f"VERDICT: {'VERIFIED' if result['ok'] else 'NOT VERIFIED'}"]
    return "\n".join(lines) + "\n"


def _line(what: str, ok: bool, text: str) -> str:
    return f"  {what:<11} {'ok' if ok else 'FAILED'} — {text}"


def _signature_text(result: dict[str, Any]) -> str:
    signature = result["signature"]
    if signature["ok"]:
        return f"Ed25519, signed by key {signature['key_id'][:16]}… (the key given)"
    return signature["problem"]


def _manifest_text(manifest: dict[str, Any]) -> str:
    if manifest.get("problem"):
        return manifest["problem"]
    parts = [f"{manifest['files']} files listed"]
    for key, what in (("mismatch", "altered"), ("missing", "missing"),
                      ("unlisted", "not in the manifest"), ("refused", "refused")):
        if manifest[key]:
            parts.append(f"{what}: {', '.join(manifest[key][:10])}"
                         + (" …" if len(manifest[key]) > 10 else ""))
    if manifest["ok"]:
        parts.append("every SHA-256 matches, none missing or added")
    return "; ".join(parts)


def _journal_text(result: dict[str, Any]) -> str:
    journal = result["journal"]
    state = journal["state"]
    if state == "missing":
        return journal.get("problem") or "no journal"
    text = f"{journal['records']} records, hash chain "
    if state == "intact":
        return text + f"intact, sealed (head {journal['head_hash'][:16]}…)"
    if state == "broken":
        return (f"hash chain BROKEN at line {journal['first_bad_line']}: {journal['problem']}; "
                f"{journal['records']} records before it verify")
    last = result.get("last_record") or {}
    running = result.get("interrupted_tests") or []
    where = (f"the run stopped after record {last.get('seq')} ({last.get('type')}, "
             f"{last.get('wall')})" if last else "the run stopped before its first record")
    test = (f"; test running: {', '.join(running)}" if running
            else "; no test was running")
    return text + f"intact but NOT SEALED: {where}{test}"


def _files_text(result: dict[str, Any]) -> str:
    files = result["files"]
    if not files:
        return "the journal names no file"
    counts: dict[str, int] = {}
    for item in files:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    bad = [f"{f['path']} ({f['status']})" for f in files
           if f["status"] in ("missing", "mismatch", "bad-hash")]
    return text + (f": {', '.join(bad)}" if bad else "")


def _verdicts_text(verdicts: dict[str, Any]) -> str:
    if verdicts.get("problem"):
        return verdicts["problem"]
    if not verdicts["compared"]:
        return "not compared (see the notes)" if verdicts["notes"] else "nothing to compare"
    text = (f"{verdicts['verdicts']} verdicts in {verdicts['files']} report files re-derived "
            "from the journal")
    if verdicts.get("measurements"):
        text += (f", {verdicts['measurements']} measurements re-derived from their readings "
                 "(value, U, rule, verdict)")
    if verdicts["mismatches"]:
        return text + f": {len(verdicts['mismatches'])} DISAGREE"
    return text + ": all agree"
