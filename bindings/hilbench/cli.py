"""`hilbench` command line: emulate, bench check, plugins — and every sub-command a package
registers in the entry-point group "hilbench.commands" (hilbench_reports adds report and
verify)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
from datetime import date
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

from ._core import ConfigError, HarnessError
from .registry import GROUPS, Registry, group_entry_points

COMMANDS: Registry[object] = Registry("hilbench.commands", callable, "a function(subparsers)")


def _emulate(args: argparse.Namespace) -> int:
    """Runs an emulated bench (a bench file's emulated devices, or the embedded bench) or one
    profile in the foreground until Ctrl-C. One JSON line on stdout says where every device
    is (for scripts: the same ready-line contract as the emulators); help goes to stderr."""
    if args.profile:
        return _emulate_profile(args)
    from .bench import embedded_bench, load_bench
    from .emulation import preload_libraries
    from .live import LiveBench

    spec = load_bench(args.bench) if args.bench else embedded_bench(tuple(args.defect))
    if args.bench and args.defect:
        raise ConfigError("--defect applies to the embedded bench or --profile; in a bench file "
                          "use [devices.emulator] defects = [...]")
    with tempfile.TemporaryDirectory(prefix="hilbench-emulate-") as logs:
        live = LiveBench(spec, Path(logs), paced=not args.unpaced)
        live.start()
        try:
            # Blocked only now: the children must not inherit a mask that hides SIGTERM.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            presenter = live.presenter.ready if live.presenter is not None else None
            devices: list[dict[str, Any]] = [
                {"name": d.name, "kind": d.profile.kind, "driver": d.spec.driver,
                 "emulated": d.emulated, "endpoints": d.endpoints()} for d in live.devices()]
            print(json.dumps({"event": "ready", "bench": spec.name, "devices": devices,
                              "umockdev_dir": presenter["umockdev_dir"] if presenter else None,
                              "pacing": presenter["pacing"] if presenter else None}),
                  flush=True)
            for device in devices:
                ways = ", ".join(f"{e['kind']} {e['address']}"
                                 + (f" (adapter {e['settings']['usb_serial']})"
                                    if e["settings"].get("usb_serial") else "")
                                 for e in device["endpoints"])
                print(f"{device['name']}: {ways}", file=sys.stderr)
            if presenter:
                preload = " ".join(preload_libraries() or ["libumockdev-preload.so.0",
                                                           "libhilbench-termios-shim.so"])
                print(f"serial ports: run your program as\n  UMOCKDEV_DIR="
                      f"{presenter['umockdev_dir']} LD_PRELOAD='{preload}' PROGRAM",
                      file=sys.stderr)
            print("Ctrl-C stops the bench.", file=sys.stderr)
            signal.sigwait({signal.SIGINT, signal.SIGTERM})
        finally:
            live.stop()
    return 0


def _emulate_profile(args: argparse.Namespace) -> int:
    from .emulation import preload_libraries, start_emulator

    child = start_emulator(Path(args.profile), args.defect, serial=not args.no_serial,
                           tcp=not args.no_tcp, usb=args.usb)
    # Blocked only now: the emulator must not inherit a mask that hides SIGTERM from it.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    ready = child.ready
    print(json.dumps(ready, indent=2))
    if ready.get("serial"):
        preload = " ".join(preload_libraries() or ["libumockdev-preload.so.0",
                                                   "libhilbench-termios-shim.so"])
        print(f"\nserial: run your program as\n  UMOCKDEV_DIR={ready['serial']['umockdev_dir']} "
              f"LD_PRELOAD='{preload}' PROGRAM\nand open {ready['serial']['device_path']} "
              f"(adapter serial {ready['serial'].get('adapter_serial')}, "
              f"{ready['serial'].get('pacing')})", file=sys.stderr)
    if ready.get("usb"):
        print(f"\nusb: run your program as\n  UMOCKDEV_DIR={ready['usb']['umockdev_dir']} "
              f"LD_PRELOAD=libumockdev-preload.so.0 PROGRAM\nand open "
              f"{ready['usb']['resource']} (libusb, pyusb, PyVISA-py)", file=sys.stderr)
    print("Ctrl-C stops the emulator.", file=sys.stderr)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KeyboardInterrupt:
        pass
    finally:
        child.stop()
    return 0


def _bench_check(args: argparse.Namespace) -> int:
    """Parses the bench file; then (unless --offline) brings the bench up, opens every
    device, reads its identity and checks reference calibrations. Exit 1 if anything is
    wrong: a device that does not answer, an identity other than declared, a calibration
    due before today."""
    from .bench import load_bench
    from .emulation import reexec_under_preload
    from .resources import describe_hardware

    spec = load_bench(args.file)
    if args.offline:
        print(f"bench '{spec.name}' ({spec.source}, sha256 {spec.sha256})")
        for device in spec.devices:
            ways = [f"{kind} {r.describe()['address']}" for kind, r in device.resources.items()]
            print(f"  {device.name}: driver {device.driver}, profile {device.profile.path}, "
                  f"{'emulated' if device.emulated else 'real'}, "
                  f"via {', '.join(ways) or 'emulator'}")
        return 0
    if spec.needs_umockdev():
        reexec_under_preload([sys.executable, "-m", "hilbench.cli", *sys.argv[1:]])
    rows = _check_devices(spec, args.timeout)
    if args.json:
        print(json.dumps({"bench": spec.name, "source": spec.source, "devices": rows},
                         indent=2, sort_keys=True))
    else:
        print(f"bench '{spec.name}' ({spec.source})")
        header = ("device", "driver", "reachable", "model", "serial", "firmware",
                  "calibration due", "hardware", "problems")
        table = [header] + [tuple(str(row[k]) if row[k] is not None else "-" for k in (
            "device", "driver", "reachable", "model", "serial", "firmware", "calibration_due"))
            + ("; ".join(describe_hardware(h) for h in row["hardware"]) or "-",
               "; ".join(row["problems"]) or "ok") for row in rows]
        widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
        for line in table:
            print("  " + "  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1])
    return 1 if any(row["problems"] for row in rows) else 0


def _check_devices(spec: Any, timeout: float) -> list[dict[str, Any]]:
    from .live import LiveBench

    today = date.today()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hilbench-check-") as logs:
        live = LiveBench(spec, Path(logs), timeout=timeout)
        live.start()
        try:
            for device in live.devices():
                problems: list[str] = []
                reachable = True
                try:
                    reported = device.read_identity()
                except HarnessError as error:
                    reported, reachable = {}, False
                    problems.append(f"no answer: {error}")
                declared = device.profile.identity
                problems += [f"{key}: reports {reported[key]!r}, declared {declared[key]!r}"
                             for key in sorted(declared.keys() & reported.keys())
                             if reported[key] != declared[key]]
                hardware = []
                for resource in device.resources.values():
                    try:
                        found = resource.hardware()
                    except HarnessError as error:
                        problems.append(f"{resource.kind} discovery failed: {error}")
                        continue
                    if found is not None:
                        hardware.append({"resource": resource.kind, **found})
                    elif resource.kind in ("serial", "optical", "usb"):
                        problems.append(f"{resource.kind} {resource.describe()['address']}: "
                                        "not in the OS's device list")
                calibration = device.spec.calibration
                if calibration is not None and calibration.overdue_on(today):
                    problems.append(f"calibration {calibration.certificate} was due "
                                    f"{calibration.due}")
                rows.append({
                    "device": device.name, "driver": device.spec.driver,
                    "endpoints": [e["address"] for e in device.endpoints()],
                    "reachable": reachable,
                    "model": reported.get("model") or reported.get("product_name"),
                    "serial": reported.get("serial_number"),
                    "firmware": reported.get("revision"),
                    "calibration_due": calibration.due.isoformat() if calibration else None,
                    "hardware": hardware, "identity": reported, "problems": problems})
        finally:
            live.stop()
    return rows


def _plugins(args: argparse.Namespace) -> int:
    """Lists every registry's entries; with --check, loads each (a broken plug-in fails)."""
    status = 0
    listing: dict[str, list[dict[str, str]]] = {}
    for group, what in GROUPS.items():
        rows = []
        for registration in group_entry_points(group):
            row = {"name": registration.name, "origin": registration.origin}
            if args.check:
                try:
                    for entry in _entry_points(group, registration.name):
                        entry.load()
                    row["loads"] = "ok"
                except Exception as error:  # report the broken plug-in, keep listing
                    row["loads"] = f"{type(error).__name__}: {error}"
                    status = 1
            rows.append(row)
        listing[group] = rows
        if not args.json:
            print(f"{group} — {what}")
            for row in rows or [{"name": "(none)", "origin": ""}]:
                extra = f"  [{row['loads']}]" if "loads" in row else ""
                print(f"  {row['name']:<24} {row['origin']}{extra}")
    if args.json:
        print(json.dumps(listing, indent=2, sort_keys=True))
    return status


def _entry_points(group: str, name: str) -> list[EntryPoint]:
    return [e for e in entry_points(group=group) if e.name == name]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hilbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    emulate = sub.add_parser("emulate", help="run an emulated bench (or one device) in the "
                                             "foreground, printing where each device is")
    emulate.add_argument("bench", nargs="?", help="bench file (default: the embedded bench)")
    emulate.add_argument("--profile", help="one device profile instead of a bench")
    emulate.add_argument("--defect", action="append", default=[],
                         help="defect knob of the embedded bench or --profile (repeatable)")
    emulate.add_argument("--unpaced", action="store_true",
                         help="emulated serial ports without character-time pacing")
    emulate.add_argument("--no-serial", action="store_true", help="with --profile")
    emulate.add_argument("--no-tcp", action="store_true", help="with --profile")
    emulate.add_argument("--usb", action="store_true",
                         help="with --profile (SCPI kinds): also present a USBTMC device")
    emulate.set_defaults(run=_emulate)

    bench = sub.add_parser("bench", help="bench files")
    bench_sub = bench.add_subparsers(dest="bench_command", required=True)
    check = bench_sub.add_parser("check", help="validate a bench file, open every device, read "
                                                "its identity, check calibrations")
    check.add_argument("file")
    check.add_argument("--offline", action="store_true",
                       help="only parse and validate the file; open nothing")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.add_argument("--timeout", type=float, default=1.0,
                       help="per-exchange device timeout in seconds (default 1.0)")
    check.set_defaults(run=_bench_check)

    plugins = sub.add_parser("plugins", help="list registered resource kinds, drivers, report "
                                             "writers and commands")
    plugins.add_argument("--json", action="store_true", help="machine-readable output")
    plugins.add_argument("--check", action="store_true", help="load every entry point")
    plugins.set_defaults(run=_plugins)

    for name in COMMANDS.names():
        try:
            add_command = COMMANDS.get(name)
        except HarnessError as error:  # a broken plug-in command must not break the others
            print(f"hilbench: {error}", file=sys.stderr)
            continue
        add_command(sub)  # type: ignore[operator]
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except HarnessError as error:
        print(f"hilbench: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
