"""`hilbench` command line: report, verify, emulate, bench check."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from ._core import HarnessError


def _report(args: argparse.Namespace) -> int:
    from hilbench_reports import build_reports

    markets = [m.strip().upper() for m in args.markets.split(",")] if args.markets else None
    out = Path(args.out) if args.out else Path(args.evidence_dir) / "reports"
    written = build_reports(Path(args.evidence_dir), out, markets=markets)
    for path in written:
        print(path)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from hilbench_reports import verify_evidence

    result = verify_evidence(Path(args.evidence_dir))
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0 if result.get("ok") else 1


def _emulate(args: argparse.Namespace) -> int:
    from .bench import embedded_profile_dir
    from .emulation import PRELOAD_NAME, start_emulator

    profile = Path(args.profile) if args.profile else embedded_profile_dir() / "em1-meter.toml"
    child = start_emulator(profile, args.defect, serial=not args.no_serial, tcp=not args.no_tcp)
    # Blocked only now: the emulator must not inherit a mask that hides SIGTERM from it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    ready = child.ready
    print(json.dumps(ready, indent=2))
    if ready.get("serial"):
        print(f"\nserial: run your program as\n  UMOCKDEV_DIR={ready['serial']['umockdev_dir']} "
              f"LD_PRELOAD={PRELOAD_NAME} PROGRAM\nand open {ready['serial']['device_path']}",
              file=sys.stderr)
    print("Ctrl-C stops the emulator.", file=sys.stderr)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        child.stop()
    return 0


def _bench_check(args: argparse.Namespace) -> int:
    from .bench import load_bench

    spec = load_bench(args.file)
    print(f"bench '{spec.name}' ({spec.source}, sha256 {spec.sha256})")
    for device in spec.devices:
        ways = [w for w, e in (("serial", device.serial), ("tcp", device.tcp)) if e] or ["emulator"]
        print(f"  {device.name}: driver {device.driver}, profile {device.profile.path}, "
              f"{'emulated' if device.emulated else 'real'}, via {', '.join(ways)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hilbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    report = sub.add_parser("report", help="rebuild the per-market reports from an evidence folder")
    report.add_argument("evidence_dir")
    report.add_argument("--out", help="output folder (default EVIDENCE_DIR/reports)")
    report.add_argument("--markets", help="comma-separated market codes (default: all)")
    report.set_defaults(run=_report)

    verify = sub.add_parser("verify", help="verify an evidence folder offline (hash chain, seal)")
    verify.add_argument("evidence_dir")
    verify.set_defaults(run=_verify)

    emulate = sub.add_parser("emulate", help="run an emulated device in the foreground")
    emulate.add_argument("--profile", help="device profile (default: the embedded EM-1 meter)")
    emulate.add_argument("--defect", action="append", default=[], help="defect knob (repeatable)")
    emulate.add_argument("--no-serial", action="store_true")
    emulate.add_argument("--no-tcp", action="store_true")
    emulate.set_defaults(run=_emulate)

    bench = sub.add_parser("bench", help="bench files")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    check = bench_sub.add_parser("check", help="parse and validate a bench file")
    check.add_argument("file")
    check.set_defaults(run=_bench_check)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except HarnessError as error:
        print(f"hilbench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
