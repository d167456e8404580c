"""Plug-in points: a third-party package adds a resource kind, a driver and a report writer
through entry points, and a suite uses them, with no file of hilbench edited.

The package (tests/plugin_package) is really installed — `pip install --target` into a
temporary directory, built with setuptools and wheel from the test extras, offline — and
reaches hilbench only through PYTHONPATH and its entry points."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench.bench import embedded_profile_dir
from hilbench.emulation import child_environment, start_emulator

from hilbench_testing import ROOT, run_pytest

PLUGIN_SOURCE = ROOT / "tests" / "plugin_package"


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("plugin-src")
    shutil.copytree(PLUGIN_SOURCE, source, dirs_exist_ok=True)
    site = tmp_path_factory.mktemp("plugin-site")
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                                "--disable-pip-version-check", "--no-deps", "--no-build-isolation",
                                "--no-index", "--target", str(site), str(source)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-3000:]
    assert (site / "hb_demo_plugin" / "__init__.py").is_file()
    return site


def with_plugin(site: Path) -> dict[str, str]:
    env = child_environment()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


def test_hilbench_plugins_lists_built_ins_and_the_plug_ins(plugin_site: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "hilbench.cli", "plugins", "--json", "--check"],
                            env=with_plugin(plugin_site), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    listing = json.loads(result.stdout)
    names = {group: {row["name"]: row for row in rows} for group, rows in listing.items()}
    assert {"serial", "tcp", "gateway"} <= set(names["hilbench.resources"])
    assert {"modbus", "demo-energy"} <= set(names["hilbench.drivers"])
    assert {"html", "json", "csv"} <= set(names["hilbench.report_writers"])
    assert {"report", "verify"} <= set(names["hilbench.commands"])
    assert names["hilbench.drivers"]["demo-energy"]["origin"].startswith("hb-demo-plugin 0.1")
    assert all(row["loads"] == "ok" for rows in names.values() for row in rows.values())


def test_a_suite_uses_a_plug_in_resource_driver_and_report_writer(plugin_site: Path,
                                                                  tmp_path: Path) -> None:
    profile = embedded_profile_dir() / "em1-meter.toml"
    emulator = start_emulator(profile, serial=False, log_path=tmp_path / "emulator.log")
    try:
        tcp = emulator.ready["tcp"]
        bench = tmp_path / "bench.toml"
        bench.write_text(f"""schema = 1
name = "plug-in bench"
[[devices]]
name = "energy-meter"
profile = "{profile}"
driver = "demo-energy"
emulated = true
[devices.gateway]
host = "{tcp['host']}"
port = {tcp['port']}
unit = 1
""")
        evidence = tmp_path / "evidence"
        result = run_pytest([str(PLUGIN_SOURCE / "suite"), "--bench", str(bench), "-rA",
                             "--evidence-dir", str(evidence)], cwd=tmp_path,
                            env=with_plugin(plugin_site))
    finally:
        emulator.stop()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "PASSED" in result.stdout and "test_energy_reads_the_declared_value" in result.stdout

    records = [json.loads(line) for line in (evidence / "journal.jsonl").read_text().splitlines()]
    [dut] = [r["data"] for r in records if r["type"] == "dut"]
    assert dut["driver"] == "demo-energy"
    assert dut["endpoints"] == [{"kind": "gateway", "address": f"{tcp['host']}:{tcp['port']}#unit1",
                                 "settings": {"unit": 1}}]
    exchanges = [r["data"] for r in records if r["type"] == "exchange"]
    assert exchanges and all(e["protocol"] == "modbus" and e["outcome"] == "ok" for e in exchanges)
    assert exchanges[0]["fields"]["function"] == 4
    verdicts = (evidence / "reports" / "verdicts.csv").read_text().splitlines()
    assert verdicts[0] == "market,requirement,status" and len(verdicts) > 100
    assert (evidence / "reports" / "index.html").is_file()
