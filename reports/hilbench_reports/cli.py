"""`hilbench report` and `hilbench verify`: sub-commands this package adds to the `hilbench`
command line through the entry-point group "hilbench.commands" (so hilbench itself never
imports the report package; the dependency runs one way, reports -> hilbench)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .build import build_reports
from .errors import ReportError
from .verify import verify_evidence


def add_report_command(sub: Any) -> None:
    report = sub.add_parser("report", help="rebuild the per-market reports from an evidence folder")
    report.add_argument("evidence_dir")
    report.add_argument("--out", help="output folder (default EVIDENCE_DIR/reports)")
    report.add_argument("--markets", help="comma-separated market codes (default: all)")
    report.add_argument("--formats", help="comma-separated report writers (default: all "
                                          "registered; see `hilbench plugins`)")
    report.set_defaults(run=_report)


def add_verify_command(sub: Any) -> None:
    verify = sub.add_parser("verify", help="verify an evidence folder offline (hash chain, seal)")
    verify.add_argument("evidence_dir")
    verify.set_defaults(run=_verify)


def _csv(value: str | None, upper: bool = False) -> list[str] | None:
    if not value:
        return None
    return [v.strip().upper() if upper else v.strip() for v in value.split(",") if v.strip()]


def _report(args: argparse.Namespace) -> int:
    try:
        return _write_reports(args)
    except ReportError as error:
        print(f"hilbench report: {error}", file=sys.stderr)
        return 2


def _write_reports(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.evidence_dir) / "reports"
    written = build_reports(Path(args.evidence_dir), out, markets=_csv(args.markets, upper=True),
                            formats=_csv(args.formats))
    for path in written:
        print(path)
    return 0


def _verify(args: argparse.Namespace) -> int:
    result = verify_evidence(Path(args.evidence_dir))
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result.get("ok") else 1
