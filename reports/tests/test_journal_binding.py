"""The journal's Python face (hilbench._core), as the plugin and the reports use it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from hilbench._core import Journal, canonical_json, sha256_hex, verify_journal


def test_append_returns_seq_and_hash_and_chains(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "journal.jsonl"
    with Journal(str(path)) as journal:
        seq, digest = journal.append("observation", {"value": [1, 2.5, None, True, "é"]})
        assert (seq, journal.next_seq, journal.head_hash) == (0, 1, digest)
        assert journal.path == path
    record = json.loads(path.read_text())
    assert record["hash"] == digest
    unhashed = {k: v for k, v in record.items() if k != "hash"}
    assert sha256_hex("0" * 64 + "\n" + canonical_json(unhashed)) == digest


def test_context_manager_closes_without_sealing(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path) as journal:
        journal.append("a", {})
    assert journal.closed
    report = verify_journal(path)
    assert not report.ok and not report.sealed and report.first_bad_line == 2
    assert verify_journal(path, require_seal=False).ok
    reopened = Journal(path)  # the chain continues
    assert reopened.next_seq == 1
    assert reopened.seal()[0] == 1
    assert verify_journal(path).ok and verify_journal(path).sealed


@pytest.mark.parametrize("data, where", [
    ({"a": {1: "x"}}, "data['a']: dict key 1"),
    ({"a": [0, {"b": object()}]}, "data['a'][1]['b']: object is not JSON"),
    ({"f": float("nan")}, "data['f']: float nan"),
    ({"i": 2**64}, "data['i']: int 18446744073709551616 does not fit"),
    ({"b": b"\x00"}, "data['b']: bytes is not JSON"),
])
def test_non_json_data_is_a_type_error_naming_the_key_path(tmp_path: Path, data: dict,
                                                            where: str) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    with pytest.raises(TypeError) as caught:
        journal.append("x", data)
    assert where in str(caught.value)
    assert journal.next_seq == 0


def test_appends_from_threads_stay_gap_free(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    seqs: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for i in range(50):
            seq, _ = journal.append("t", {"i": i})
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seqs) == list(range(200))
    journal.seal()
    assert verify_journal(tmp_path / "journal.jsonl").records == 201


def test_sha256_hex_takes_bytes_and_str() -> None:
    digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_hex(b"abc") == sha256_hex("abc") == sha256_hex(bytearray(b"abc")) == digest
    with pytest.raises(TypeError):
        sha256_hex(42)
