"""Several evidence folders as one: the journals of pytest-xdist workers, of several benches,
of a run and its re-test, merged into a new evidence folder whose reports cover them all,
with the provenance of every record kept.

The merged folder is evidence of its own: a new hash-chained, sealed journal (the chain
attests the merge; the sources' chains stay in the sources). It holds
- a `run_started` record whose `merged_from` lists each source: the folder's name, its run
  id, bench, journal state (intact, or unsealed: an interrupted run's verified prefix) and
  head hash, record count, and first and last record times;
- each source's records in source order (its own run_started, run_finished and
  journal_sealed aside), each with `source`: {`run` (1-based index in `merged_from`), `seq`,
  `hash`, `wall`}: where the record came from and its hash there, so an auditor can look it
  up in the source journal (`check_merged` does that for every record);
- `run_finished` with the summed counts, then the seal.
A test's `evidence` seqs are renumbered into the merged journal. A source whose journal is
broken (a record edited, a link missing) is refused: what follows the break is not evidence,
and merging it would hide that. Verdicts combine as within one run: every linked test counts,
so a requirement failed in one source and passed in a re-test is failed, with both tests
listed (and each says which run it came from).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from hilbench._core import Journal

from .errors import EvidenceError
from .evidence import JOURNAL_NAME, Run, read_run

FRAME_TYPES = ("run_started", "run_finished", "journal_sealed")


def merge_evidence(sources: Sequence[Path], out: Path) -> Path:
    """Writes the merged evidence folder `out` (which must not hold a journal yet) from the
    evidence folders `sources`, in their order; returns the merged journal's path."""
    if len(sources) < 2:
        raise EvidenceError("merge needs two or more evidence folders")
    runs = [read_run(Path(source)) for source in sources]
    for source, run in zip(sources, runs):
        if run.check.state == "broken":
            raise EvidenceError(f"{source}: the journal is broken at line "
                                f"{run.check.first_bad_line} ({run.check.problem}); a broken "
                                "journal is not merged (hilbench verify says more)")
    out = Path(out)
    target = out / JOURNAL_NAME
    if target.exists():
        raise EvidenceError(f"{target} exists: merge into a new folder")
    out.mkdir(parents=True, exist_ok=True)
    with Journal(str(target)) as journal:
        journal.append("run_started", _merged_start(sources, runs))
        counts: dict[str, int] = {}
        exit_statuses: list[int | None] = []
        for index, run in enumerate(runs, start=1):
            renumbered: dict[int, int] = {}
            for record in run.records:
                if record.type in FRAME_TYPES:
                    continue
                data = dict(record.data)
                if record.type == "test_finished" and isinstance(data.get("evidence"), list):
                    data["evidence"] = [renumbered[s] for s in data["evidence"]
                                        if isinstance(s, int) and s in renumbered]
                data["source"] = {"run": index, "seq": record.seq, "hash": record.hash,
                                  "wall": record.wall}
                seq, _hash = journal.append(record.type, data)
                renumbered[record.seq] = seq
            finished = run.run_finished.data if run.run_finished else {}
            for outcome, count in (finished.get("counts") or {}).items():
                if isinstance(count, int):
                    counts[str(outcome)] = counts.get(str(outcome), 0) + count
            status = finished.get("exitstatus")
            exit_statuses.append(status if isinstance(status, int) else None)
        known = [s for s in exit_statuses if s is not None]
        journal.append("run_finished", {
            # An interrupted source has no exit status: the merge cannot claim a clean one.
            "exitstatus": max(known) if len(known) == len(exit_statuses) else None,
            "counts": counts})
        journal.seal()
    return target


def _merged_start(sources: Sequence[Path], runs: Sequence[Run]) -> dict[str, Any]:
    starts = [run.run_started.data if run.run_started else {} for run in runs]
    benches: list[dict[str, Any]] = [b if isinstance(b := s.get("bench"), dict) else {}
                                     for s in starts]
    markets: list[str] = []
    for start in starts:
        for market in start.get("markets") or []:
            if isinstance(market, str) and market not in markets:
                markets.append(market)
    versions = {s.get("hilbench_version") for s in starts}
    catalogs = {s.get("catalog_version") for s in starts}
    emulated = [b.get("emulated") for b in benches]
    heads = "".join(run.check.head_hash for run in runs)
    return {
        "run_id": hashlib.sha256(heads.encode()).hexdigest()[:32],
        "hilbench_version": versions.pop() if len(versions) == 1 else None,
        "markets": markets,
        "seed": None,
        "argv": ["hilbench", "merge", *(Path(s).name for s in sources)],
        "bench": {"name": "merged: " + ", ".join(str(b.get("name")) for b in benches),
                  "source": "merged", "sha256": None,
                  # Emulated if any source was: a merged report is certification evidence
                  # only if every source is.
                  "emulated": True if any(e is not False for e in emulated) else False},
        "catalog_version": catalogs.pop() if len(catalogs) == 1 else None,
        "merged_from": [{
            "run": index, "folder": Path(source).name, "run_id": start.get("run_id"),
            "bench": bench.get("name"), "emulated": bench.get("emulated"),
            "journal": run.check.state, "head_hash": run.check.head_hash,
            "records": run.check.records,
            "first_wall": run.records[0].wall if run.records else None,
            "last_wall": run.records[-1].wall if run.records else None,
        } for index, (source, run, start, bench) in enumerate(zip(sources, runs, starts, benches),
                                                               start=1)],
    }


def check_merged(merged: Path, sources: Sequence[Path]) -> list[str]:
    """Problems found comparing a merged folder with its sources (given in merge order): a
    record whose data or hash is not the source's, a source whose head hash changed since
    the merge, records missing. [] when the merge is faithful."""
    run = read_run(Path(merged))
    started = run.run_started.data if run.run_started else {}
    listed = started.get("merged_from") or []
    if len(listed) != len(sources):
        return [f"the merge lists {len(listed)} sources, {len(sources)} given"]
    problems = []
    originals = [read_run(Path(source)) for source in sources]
    for entry, source_run in zip(listed, originals):
        if entry.get("head_hash") != source_run.check.head_hash:
            problems.append(f"source {entry.get('run')} ({entry.get('folder')}): head hash "
                            f"{source_run.check.head_hash}, the merge recorded "
                            f"{entry.get('head_hash')}")
    copied = 0
    for record in run.records:
        source = record.data.get("source")
        if record.type in FRAME_TYPES or not isinstance(source, dict):
            continue
        copied += 1
        index, seq = source.get("run"), source.get("seq")
        owner = originals[index - 1] if isinstance(index, int) and \
            1 <= index <= len(originals) else None
        original = owner.by_seq.get(seq) if owner and isinstance(seq, int) else None
        if original is None:
            problems.append(f"record #{record.seq}: no record {seq} in source {index}")
            continue
        data = {k: v for k, v in record.data.items() if k != "source"}
        expected = dict(original.data)
        if record.type == "test_finished":
            data.pop("evidence", None)
            expected.pop("evidence", None)
        if original.hash != source.get("hash") or data != expected or \
                original.type != record.type:
            problems.append(f"record #{record.seq}: differs from record {seq} of source {index}")
    wanted = sum(1 for o in originals for r in o.records if r.type not in FRAME_TYPES)
    if copied != wanted:
        problems.append(f"{copied} records copied, the sources hold {wanted}")
    return problems
