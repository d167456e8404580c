"""Reads a run's evidence: the journal (through the C++ verifier first), as plain data.

Only records before the first integrity problem are read: what follows a broken link is not
evidence. Unknown record types are kept (they may be cited as evidence) but play no part in
verdicts. Records of an older schema this code still reads (hilbench.records.READABLE_SCHEMAS)
are upgraded to the current shape; any other schema is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hilbench._core import verify_journal
from hilbench.records import JOURNAL_SCHEMA, READABLE_SCHEMAS, upgrade

from .errors import EvidenceError, SchemaError

JOURNAL_NAME = "journal.jsonl"
EVIDENCE_TYPES = ("exchange", "observation")


@dataclass(frozen=True)
class Record:
    seq: int
    hash: str
    type: str
    wall: str
    data: dict[str, Any]


@dataclass(frozen=True)
class JournalCheck:
    """The journal's integrity, from hilbench._core.verify_journal."""

    state: str  # "intact" | "unsealed" | "broken"
    ok: bool
    sealed: bool
    records: int  # valid records (before the first problem)
    head_hash: str
    first_bad_line: int | None
    problem: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": JOURNAL_NAME, "state": self.state, "ok": self.ok, "sealed": self.sealed,
                "records": self.records, "head_hash": self.head_hash,
                "first_bad_line": self.first_bad_line, "problem": self.problem}


@dataclass
class TestResult:
    nodeid: str
    outcome: str  # passed | failed | error | skipped | unfinished
    requirements: tuple[str, ...]
    duration_s: float | None
    message: str
    started: Record | None
    finished: Record | None
    evidence: list[int] = field(default_factory=list)  # seqs of records proving the verdict

    @property
    def record(self) -> Record:
        """The record that states the verdict (or, for an unfinished test, its start)."""
        record = self.finished or self.started
        assert record is not None
        return record


@dataclass(frozen=True)
class Run:
    check: JournalCheck
    records: tuple[Record, ...]
    by_seq: dict[int, Record]
    run_started: Record | None
    run_finished: Record | None
    duts: tuple[Record, ...]
    tests: tuple[TestResult, ...]


def check_journal(journal: Path) -> JournalCheck:
    """Verifies the chain leniently and strictly, to tell an unsealed journal from a broken one."""
    strict = verify_journal(str(journal), require_seal=True)
    lenient = strict if strict.ok else verify_journal(str(journal), require_seal=False)
    state = "intact" if strict.ok else ("unsealed" if lenient.ok else "broken")
    return JournalCheck(state=state, ok=strict.ok, sealed=strict.sealed,
                        records=int(lenient.records), head_hash=lenient.head_hash,
                        first_bad_line=strict.first_bad_line, problem=strict.problem)


def read_run(evidence_dir: Path) -> Run:
    journal = Path(evidence_dir) / JOURNAL_NAME
    if not journal.is_file():
        raise EvidenceError(
            f"{evidence_dir}: no {JOURNAL_NAME} (not a hilbench evidence directory)")
    check = check_journal(journal)
    records = tuple(_read_records(journal, check.records))
    by_seq = {r.seq: r for r in records}
    return Run(
        check=check, records=records, by_seq=by_seq,
        run_started=_first(records, "run_started"),
        run_finished=_first(records, "run_finished"),
        duts=tuple(r for r in records if r.type == "dut"),
        tests=tuple(_tests(records, by_seq)),
    )


def _read_records(journal: Path, count: int) -> list[Record]:
    """The first `count` records (the verified prefix), schema-checked."""
    out: list[Record] = []
    with journal.open("rb") as stream:
        for line_no, line in enumerate(stream, start=1):
            if line_no > count:
                break
            raw = json.loads(line)
            schema = raw.get("schema")
            if schema not in READABLE_SCHEMAS:
                raise SchemaError(
                    f"{journal}: line {line_no}: record schema {schema!r} is not supported "
                    f"(this hilbench_reports reads schemas "
                    f"{', '.join(map(str, READABLE_SCHEMAS))}; current {JOURNAL_SCHEMA}); "
                    "use the hilbench version that wrote the journal")
            out.append(Record(seq=raw["seq"], hash=raw["hash"], type=raw["type"],
                              wall=raw["wall"], data=upgrade(schema, raw["type"], raw["data"])))
    return out


def _first(records: tuple[Record, ...], kind: str) -> Record | None:
    return next((r for r in records if r.type == kind), None)


def _tests(records: tuple[Record, ...], by_seq: dict[int, Record]) -> list[TestResult]:
    """Pairs test_started/test_finished per nodeid and collects each test's evidence."""
    results: list[TestResult] = []
    open_tests: dict[str, TestResult] = {}
    for record in records:
        nodeid = record.data.get("nodeid")
        if record.type == "test_started" and isinstance(nodeid, str):
            result = TestResult(nodeid=nodeid, outcome="unfinished",
                                requirements=_ids(record.data.get("requirements")),
                                duration_s=None, message="", started=record, finished=None)
            open_tests[nodeid] = result
            results.append(result)
        elif record.type in EVIDENCE_TYPES and isinstance(nodeid, str) and nodeid in open_tests:
            open_tests[nodeid].evidence.append(record.seq)
        elif record.type == "test_finished" and isinstance(nodeid, str):
            opened = open_tests.pop(nodeid, None)
            if opened is not None:
                result = opened
            else:  # finished without a start record: still a verdict
                result = TestResult(nodeid=nodeid, outcome="", requirements=(), duration_s=None,
                                    message="", started=None, finished=None)
                results.append(result)
            _finish(result, record, by_seq)
    for result in open_tests.values():
        result.message = "the journal ends before this test finished (run interrupted)"
    return results


def _finish(result: TestResult, record: Record, by_seq: dict[int, Record]) -> None:
    data = record.data
    result.finished = record
    result.outcome = str(data.get("outcome", "error"))
    result.requirements = _ids(data.get("requirements")) or result.requirements
    duration = data.get("duration_s")
    result.duration_s = float(duration) if isinstance(duration, (int, float)) else None
    result.message = str(data.get("message") or "")
    cited = [s for s in data.get("evidence") or [] if isinstance(s, int) and s in by_seq]
    result.evidence = sorted(set(result.evidence) | set(cited))


def _ids(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(dict.fromkeys(str(v) for v in value))
