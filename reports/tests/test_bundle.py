"""Signed evidence bundles: made deterministically, verified offline, and every kind of tampering
found — an edited byte in any bundled file, a removed or reordered journal record (even when an
insider re-signs), another key's signature, and a report whose verdict was edited by hand."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hilbench_reports import build_reports
from hilbench_reports.audit import describe, verify_target
from hilbench_reports.bundle import (MANIFEST, SIGNATURE, BundleError, KeyFileError,
                                     UnpackLimits, create_bundle, generate_key,
                                     load_private_key, unpack)
from hilbench_reports.cli import _bundle, _verify  # noqa: F401  (the commands themselves)

from bundle_tools import journal_lines, read_members, tampered
from report_runs import NODE, RunWriter, standard_run

FAILING = "MODBUS-APP-7-01"  # failed in report_runs.standard_run


@pytest.fixture
def lab_key(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "lab.pem", tmp_path / "lab.pub.pem"
    generate_key(private, public)
    return private, public


@pytest.fixture
def sealed_run(tmp_path: Path) -> Path:
    """A sealed synthetic run with a raw capture and a log beside the journal, and its reports
    in every registered format."""
    directory = tmp_path / "evidence"
    directory.mkdir()
    capture = directory / "captures" / "rtu.bin"
    capture.parent.mkdir()
    capture.write_bytes(bytes(range(256)) * 4)
    (directory / "logs").mkdir()
    (directory / "logs" / "emulator-em1.log").write_text("ready\nframe in 01 03\n")
    writer = standard_run(directory)
    writer.append("capture", {"path": "captures/rtu.bin",
                              "sha256": hashlib.sha256(capture.read_bytes()).hexdigest()})
    writer.finish()
    build_reports(directory)
    return directory


@pytest.fixture
def bundle(sealed_run: Path, lab_key: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "bundle.tar"
    create_bundle(sealed_run, lab_key[0], out)
    return out


def check(bundle: Path, public: Path, verdicts: bool = True) -> dict:
    return verify_target(bundle, public, verdicts=verdicts)


def test_a_bundle_holds_the_evidence_the_catalog_and_a_signed_manifest(bundle, lab_key, sealed_run):
    members = read_members(bundle)
    names = list(members)
    assert names[0] == MANIFEST and names[-1] == SIGNATURE
    assert names[1:-1] == sorted(names[1:-1])
    manifest = json.loads(members[MANIFEST])
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    assert set(listed) == set(names[1:-1])
    for name in ("evidence/journal.jsonl", "evidence/captures/rtu.bin",
                 "evidence/logs/emulator-em1.log", "evidence/reports/report-EU.json",
                 "evidence/reports/junit.xml", "evidence/reports/oscal-EU.json",
                 "catalog/catalog.toml"):
        assert listed[name] == hashlib.sha256(members[name]).hexdigest(), name
    assert manifest["catalog"]["label"].startswith("hilbench-markets@")
    assert manifest["journal"]["state"] == "intact"
    assert manifest["run_id"] == "0123456789abcdef0123456789abcdef"
    with tarfile.open(bundle) as tar:
        assert {(i.mtime, i.uid, i.gid, i.uname, i.mode) for i in tar} == {(0, 0, 0, "", 0o644)}

    result = check(bundle, lab_key[1])
    assert result["ok"], describe(result)
    assert result["signature"]["ok"] and result["manifest"]["ok"]
    assert result["verdicts"]["compared"] and result["verdicts"]["verdicts"] > 50
    text = describe(result)
    assert "VERDICT: VERIFIED" in text and "signed by key" in text
    assert "not certification evidence" in text


def test_the_same_evidence_and_key_give_the_same_bytes(sealed_run, lab_key, tmp_path):
    first, second = tmp_path / "a.tar", tmp_path / "b.tar"
    create_bundle(sealed_run, lab_key[0], first)
    create_bundle(sealed_run, lab_key[0], second)
    assert first.read_bytes() == second.read_bytes()
    gz = tmp_path / "c.tar.gz"
    create_bundle(sealed_run, lab_key[0], gz)
    assert check(gz, lab_key[1])["ok"]


def test_changing_any_byte_of_any_bundled_file_is_detected(bundle, lab_key, tmp_path):
    rng = random.Random(13)
    names = list(read_members(bundle))
    for index, name in enumerate(names):
        def flip(members: dict, name: str = name) -> None:
            data = bytearray(members[name])
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            members[name] = bytes(data)

        # Integrity alone must catch it (re-deriving the reports is for the tests below).
        result = check(tampered(bundle, tmp_path / f"t{index}.tar", flip), lab_key[1],
                       verdicts=False)
        assert not result["ok"], name
        if name == SIGNATURE:
            assert not result["signature"]["ok"]
        elif name == MANIFEST:
            assert not (result["signature"]["ok"] and result["manifest"]["ok"]), name
        else:
            assert result["manifest"]["mismatch"] == [name]
            assert result["signature"]["ok"]  # the manifest itself is intact


@pytest.mark.parametrize("resigned", [False, True], ids=["kept-signature", "insider-resigned"])
def test_a_removed_journal_record_is_detected(bundle, lab_key, tmp_path, resigned):
    def remove(members: dict) -> None:
        lines = journal_lines(members)
        del lines[5]
        members["evidence/journal.jsonl"] = b"".join(lines)

    key = load_private_key(lab_key[0]) if resigned else None
    result = check(tampered(bundle, tmp_path / "t.tar", remove, key), lab_key[1])
    assert not result["ok"]
    assert result["journal"]["state"] == "broken" and result["journal"]["first_bad_line"] == 6
    assert result["manifest"]["ok"] is resigned and result["signature"]["ok"]
    assert "BROKEN at line 6" in describe(result)


@pytest.mark.parametrize("resigned", [False, True], ids=["kept-signature", "insider-resigned"])
def test_two_reordered_journal_records_are_detected(bundle, lab_key, tmp_path, resigned):
    def swap(members: dict) -> None:
        lines = journal_lines(members)
        lines[7], lines[8] = lines[8], lines[7]
        members["evidence/journal.jsonl"] = b"".join(lines)

    key = load_private_key(lab_key[0]) if resigned else None
    result = check(tampered(bundle, tmp_path / "t.tar", swap, key), lab_key[1])
    assert not result["ok"]
    assert result["journal"]["state"] == "broken" and result["journal"]["first_bad_line"] == 8


def test_another_keys_signature_is_detected(bundle, lab_key, tmp_path):
    other = Ed25519PrivateKey.generate()

    def swap_signature(members: dict) -> None:
        from bundle_tools import resign

        resign(members, other)  # a complete, valid signature — by the wrong key

    result = check(tampered(bundle, tmp_path / "t.tar", swap_signature), lab_key[1])
    assert not result["ok"] and result["manifest"]["ok"]
    assert not result["signature"]["ok"]
    assert "signed by another key" in result["signature"]["problem"]


def test_a_bundle_without_its_signature_or_manifest_fails(bundle, lab_key, tmp_path):
    for member in (SIGNATURE, MANIFEST):
        result = check(tampered(bundle, tmp_path / f"{member}.tar",
                                lambda m, member=member: m.pop(member)), lab_key[1], False)
        assert not result["ok"] and not result["signature"]["ok"]
    extra = check(tampered(bundle, tmp_path / "extra.tar",
                           lambda m: m.update({"evidence/late.txt": b"added"})), lab_key[1],
                  False)
    assert not extra["ok"] and extra["manifest"]["unlisted"] == ["evidence/late.txt"]


def test_a_verdict_edited_by_hand_is_found_by_re_deriving(sealed_run, lab_key, tmp_path):
    """The lab edits a report (failed -> passed) and signs the bundle: the signature and every
    digest verify, the journal is intact — and the re-derived verdict disagrees."""
    path = sealed_run / "reports" / "report-EU.json"
    report = json.loads(path.read_text())
    entry = next(r for r in report["requirements"] if r["id"] == FAILING)
    assert entry["status"] == "failed"
    entry["status"] = "passed"
    path.write_text(json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    junit = sealed_run / "reports" / "junit.xml"
    junit.write_text(junit.read_text().replace('<failure message="expected exception 01',
                                               '<system-out message="expected exception 01')
                     .replace("</failure>", "</system-out>"))
    out = tmp_path / "edited.tar"
    create_bundle(sealed_run, lab_key[0], out)

    result = check(out, lab_key[1])
    assert result["signature"]["ok"] and result["manifest"]["ok"] and result["journal"]["ok"]
    assert not result["ok"]
    found = {(m["file"], m["item"]): (m["report"], m["journal"])
             for m in result["verdicts"]["mismatches"]}
    assert found[("reports/report-EU.json", f"requirement {FAILING}")] == ("passed", "failed")
    assert found[("reports/junit.xml", f"testcase suites.interface.test_modbus_interface::"
                                       "test_exception_01[rtu]")] == ("passed", "failure")
    text = describe(result)
    assert f"requirement {FAILING}: the report says passed, the journal says failed" in text
    assert "VERDICT: NOT VERIFIED" in text


def test_an_html_report_edited_by_hand_differs_from_the_re_derived_one(sealed_run, lab_key,
                                                                          tmp_path):
    page = sealed_run / "reports" / "report-EU.html"
    page.write_text(page.read_text().replace("failed", "passed"))
    out = tmp_path / "edited.tar"
    create_bundle(sealed_run, lab_key[0], out)
    result = check(out, lab_key[1])
    assert not result["ok"]
    assert [m["file"] for m in result["verdicts"]["mismatches"]] == ["reports/report-EU.html"]


def test_an_interrupted_run_is_bundled_and_verify_says_where_it_stopped(tmp_path, lab_key):
    writer = RunWriter(tmp_path / "e")
    writer.start()
    writer.test("test_done", ("HB-IOP-01",), "passed")
    writer.test("test_cut_short", ("HB-IOP-01",), None)
    writer.journal.close()
    out = tmp_path / "cut.tar"
    create_bundle(tmp_path / "e", lab_key[0], out)
    result = check(out, lab_key[1])
    assert not result["ok"] and result["signature"]["ok"] and result["manifest"]["ok"]
    text = describe(result)
    assert "NOT SEALED" in text and f"test running: {NODE}test_cut_short" in text
    assert "(observation," in text


def test_a_broken_journal_is_not_bundled(sealed_run, lab_key, tmp_path):
    journal = sealed_run / "journal.jsonl"
    journal.write_bytes(journal.read_bytes().replace(b'"seed":1', b'"seed":2'))
    with pytest.raises(BundleError, match="broken"):
        create_bundle(sealed_run, lab_key[0], tmp_path / "x.tar")


def test_keys(tmp_path, lab_key):
    private, public = lab_key
    assert private.stat().st_mode & 0o777 == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    with pytest.raises(KeyFileError, match="never overwrites"):
        generate_key(private, tmp_path / "other.pub.pem")
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    with pytest.raises(KeyFileError, match="not an Ed25519 private key"):
        load_private_key(rsa_key)
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "absent.pem")


def test_a_report_of_a_market_the_run_did_not_select_is_re_derived_too(lab_key, tmp_path):
    """`hilbench report --markets UK` after an EU-only run adds report-UK.json: its verdicts
    are checked like the others, and a forged report for a market the catalog lacks is a
    mismatch."""
    sealed_run = tmp_path / "eu-only"
    standard_run(sealed_run, markets=["EU"]).finish()
    build_reports(sealed_run)
    assert not (sealed_run / "reports" / "report-UK.json").exists()
    build_reports(sealed_run, tmp_path / "later", markets=["UK"], formats=["json"])
    report = json.loads((tmp_path / "later" / "report-UK.json").read_text())
    report["summary"]["status"]["passed"] += 1
    (sealed_run / "reports" / "report-UK.json").write_text(json.dumps(report))
    (sealed_run / "reports" / "report-ZZ.json").write_text("{}")
    out = tmp_path / "extra.tar"
    create_bundle(sealed_run, lab_key[0], out)
    mismatches = {(m["file"], m["item"]) for m in check(out, lab_key[1])["verdicts"]["mismatches"]}
    assert mismatches == {("reports/report-UK.json", "count of requirements passed"),
                          ("reports/report-ZZ.json", "(whole file)")}


def _gzip_bomb(path: Path, name: str, size: int) -> Path:
    """A tar.gz whose one member expands to `size` zero bytes (a few KB on disk)."""
    class Zeros(io.RawIOBase):
        def __init__(self, left: int) -> None:
            self.left = left

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            n = min(len(buffer), self.left)
            buffer[:n] = bytes(n)
            self.left -= n
            return n

    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = size
        tar.addfile(info, io.BufferedReader(Zeros(size)))
    return path


def test_a_bundle_beyond_the_unpack_limits_is_refused_before_it_fills_the_disk(tmp_path, lab_key):
    """Issue 9: a bundle is read before its signature is checked, so a hostile one must not
    fill memory or disk. The manifest (read into memory) is bounded; so are each member, all
    members together and their number, counted as the bytes come out of the archive."""
    _private, public = lab_key
    bomb = _gzip_bomb(tmp_path / "bomb.tar.gz", MANIFEST, (64 << 20) + 1)
    assert bomb.stat().st_size < 200_000
    result = verify_target(bomb, public)
    assert not result["ok"] and "MANIFEST.json: more than 67,108,864 bytes" in result["problem"]
    small = UnpackLimits(members=3, member_bytes=1000, total_bytes=1500)
    member = _gzip_bomb(tmp_path / "member.tar.gz", "evidence/journal.jsonl", 1001)
    with pytest.raises(BundleError, match="journal.jsonl: more than 1,000 bytes"):
        unpack(member, tmp_path / "out1", small)
    many = tmp_path / "many.tar"
    with tarfile.open(many, "w") as tar:
        for index in range(4):
            info = tarfile.TarInfo(f"evidence/f{index}")
            info.size = 600
            tar.addfile(info, io.BytesIO(bytes(600)))
    with pytest.raises(BundleError, match="more than 1,500 bytes in all"):
        unpack(many, tmp_path / "out2", small)
    with pytest.raises(BundleError, match="more than 3 members"):
        unpack(many, tmp_path / "out3", UnpackLimits(members=3))
