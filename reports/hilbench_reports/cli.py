"""`hilbench report`, `hilbench verify` and `hilbench bundle`: sub-commands this package adds to the `hilbench`
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


def add_report_command(sub: Any) -> None:
    report = sub.add_parser("report", help="rebuild the per-market reports from an evidence folder")
    report.add_argument("evidence_dir")
    report.add_argument("--out", help="output folder (default EVIDENCE_DIR/reports)")
    report.add_argument("--markets", help="comma-separated market codes (default: all)")
    report.add_argument("--formats", help="comma-separated report writers (default: all "
                                          "registered but the opt-in pdf; see `hilbench "
                                          "plugins`), e.g. html,json,pdf")
    report.add_argument("--product", help="product file: lab, customer, item, attestations "
                                          "(default: EVIDENCE_DIR/product.toml if present)")
    report.set_defaults(run=_report)


def add_verify_command(sub: Any) -> None:
    verify = sub.add_parser(
        "verify", help="verify an evidence folder or a signed bundle offline (signature, "
                       "digests, hash chain, seal; verdicts re-derived from the journal)",
        description="Exit status: 0 verified; 1 not verified (something failed a check); "
                    "2 nothing verified (bad usage, unreadable key). See docs/verify.md.")
    verify.add_argument("evidence_dir", metavar="EVIDENCE_DIR_OR_BUNDLE")
    verify.add_argument("--key", help="the lab's Ed25519 public key (PEM); needed for a bundle")
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.set_defaults(run=_verify)


def add_bundle_command(sub: Any) -> None:
    bundle = sub.add_parser(
        "bundle", help="pack an evidence folder into one signed archive "
                       "(`hilbench bundle keygen -o NAME` makes a lab key pair)",
        description="hilbench bundle EVIDENCE_DIR --key PRIVATE.pem -o OUT.tar | "
                    "hilbench bundle keygen -o NAME (writes NAME.pem and NAME.pub.pem)")
    bundle.add_argument("evidence_dir", metavar="EVIDENCE_DIR|keygen")
    bundle.add_argument("--key", help="the lab's Ed25519 private key (PEM)")
    bundle.add_argument("-o", "--out", help="the bundle to write (.tar, or .tar.gz); with "
                                            "keygen: the key files' name")
    bundle.add_argument("--catalog", help="catalog folder the reports were built with "
                                          "(default: this hilbench's)")
    bundle.set_defaults(run=_bundle)


def add_catalog_command(sub: Any) -> None:
    catalog = sub.add_parser("catalog", help="the requirement catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    check = catalog_sub.add_parser(
        "check", help="collect the tests (nothing runs): fail on requirement IDs or properties "
                      "the catalog does not know or on documentary requirements named by a "
                      "test; list the bench-testable requirements no test covers")
    check.add_argument("paths", nargs="*", help="test paths (default: suites)")
    check.add_argument("--json", action="store_true", help="print the result as JSON")
    check.set_defaults(run=_catalog_check)


def add_compare_command(sub: Any) -> None:
    compare = sub.add_parser("compare", help="compare two evidence folders (e.g. firmware 1.2 "
                                             "against 1.3): what changed, per market")
    compare.add_argument("before")
    compare.add_argument("after")
    compare.add_argument("--markets", help="comma-separated market codes (default: all)")
    compare.add_argument("--json", action="store_true", help="print the comparison as JSON")
    compare.set_defaults(run=_compare)


def add_merge_command(sub: Any) -> None:
    merge = sub.add_parser("merge", help="merge evidence folders (xdist workers, benches, a "
                                         "re-test) into one, with provenance, and report it")
    merge.add_argument("evidence_dirs", nargs="+", metavar="EVIDENCE_DIR")
    merge.add_argument("-o", "--out", required=True, help="the merged evidence folder (new)")
    merge.add_argument("--markets", help="comma-separated market codes (default: the union "
                                         "the sources selected)")
    merge.add_argument("--check", action="store_true",
                       help="compare an existing merged folder (--out) with its sources "
                            "record by record instead of merging")
    merge.set_defaults(run=_merge)


def _merge(args: argparse.Namespace) -> int:
    from .merge import check_merged, merge_evidence

    sources = [Path(d) for d in args.evidence_dirs]
    try:
        if args.check:
            problems = check_merged(Path(args.out), sources)
            for problem in problems:
                print(problem)
            print("the merge is faithful to its sources" if not problems else
                  f"{len(problems)} problem(s)")
            return 1 if problems else 0
        merge_evidence(sources, Path(args.out))
        for path in build_reports(Path(args.out), markets=_csv(args.markets, upper=True)):
            print(path)
    except ReportError as error:
        print(f"hilbench merge: {error}", file=sys.stderr)
        return 2
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare import compare_runs, render_text

    try:
        result = compare_runs(Path(args.before), Path(args.after),
                              markets=_csv(args.markets, upper=True))
    except ReportError as error:
        print(f"hilbench compare: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else render_text(result))
    return 0


def _catalog_check(args: argparse.Namespace) -> int:
    from .catalog_check import check_tests, render_text

    result = check_tests(args.paths or None)
    print(json.dumps(result.as_dict(), indent=2, sort_keys=True) if args.json
          else render_text(result))
    return 0 if result.ok else 1


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
                            formats=_csv(args.formats),
                            product=Path(args.product) if args.product else None)
    for path in written:
        print(path)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from .audit import EXIT_FAILED, EXIT_UNUSABLE, EXIT_VERIFIED, describe, verify_target

    try:
        result = verify_target(Path(args.evidence_dir), Path(args.key) if args.key else None)
    except ReportError as error:
        print(f"hilbench verify: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    print(json.dumps(result, indent=2, sort_keys=True) if args.json else describe(result),
          end="\n" if args.json else "")
    return EXIT_VERIFIED if result.get("ok") else EXIT_FAILED


def _bundle(args: argparse.Namespace) -> int:
    from .bundle import create_bundle, generate_key

    try:
        if args.evidence_dir == "keygen":
            name = args.out or "hilbench-lab-key"
            key_id = generate_key(Path(f"{name}.pem"), Path(f"{name}.pub.pem"))
            print(f"private key {name}.pem (keep it secret; mode 0600)\n"
                  f"public key  {name}.pub.pem (hand it to auditors)\nkey id      {key_id}")
            return 0
        if not args.key or not args.out:
            print("hilbench bundle: give --key PRIVATE.pem and -o OUT", file=sys.stderr)
            return 2
        manifest = create_bundle(Path(args.evidence_dir), Path(args.key), Path(args.out),
                                 Path(args.catalog) if args.catalog else None)
    except ReportError as error:
        print(f"hilbench bundle: {error}", file=sys.stderr)
        return 2
    print(f"{args.out}: {len(manifest['files'])} files, journal {manifest['journal']['state']} "
          f"({manifest['journal']['records']} records), catalog {manifest['catalog']['label']}")
    return 0
