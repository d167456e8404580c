"""Bench files and profiles: strict parsing, errors that name the file and the key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hilbench import ConfigError
from hilbench.bench import embedded_bench, embedded_profile_dir, load_bench
from hilbench.emulation import find_tool
from hilbench.profile import known_defects, load_profile

from hilbench_testing import PEERS, ROOT, run_pytest

EM1 = embedded_profile_dir() / "em1-meter.toml"


def write(tmp_path: Path, text: str, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_bench_file_resolves_profile_relative_to_the_file(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "m.toml").write_text(EM1.read_text())
    bench = load_bench(write(tmp_path, """
schema = 1
name = "lab-3"
[[devices]]
profile = "profiles/m.toml"
[devices.tcp]
host = "127.0.0.1"
port = 1502
"""))
    assert bench.name == "lab-3" and bench.sha256 and not bench.emulated
    assert bench.devices[0].name == "em1" and bench.devices[0].resources["tcp"].port == 1502


@pytest.mark.parametrize("body, key, words", [
    ("schema = 1\nfoo = 1\n[[devices]]\nprofile='P'\n[devices.tcp]\nhost='h'\nport=1\n", "foo", "unknown key"),
    ("schema = 1\n[[devices]]\nprofile='P'\n[devices.tcp]\nhost='h'\nport='502'\n", "devices[0].tcp.port",
     "expected integer"),
    ("schema = 1\n[[devices]]\nprofile='P'\n[devices.tcp]\nhost='h'\nprot=1\n", "devices[0].tcp.prot",
     "unknown key"),
    ("schema = 2\n[[devices]]\nprofile='P'\n", "schema", "unsupported bench schema"),
    ("schema = 1\n[[devices]]\nprofile='P'\n", "devices[0]", "no way to reach the device"),
    ("schema = 1\n[[devices]]\nprofile='P'\n[devices.emulator]\ndefects=['nope']\n",
     "devices[0].emulator.defects[0]", "unknown defect"),
    ("schema = 1\n[[devices]]\nprofile='P'\n[devices.serial]\nport='/dev/x'\nparity='weird'\n",
     "devices[0].serial.parity", "must be one of"),
    ("schema = 1\n[[devices]\n", "", "not valid TOML"),
])
def test_bad_bench_file_names_file_and_key(tmp_path, body, key, words):
    path = write(tmp_path, body.replace("'P'", f"'{EM1}'"))
    with pytest.raises(ConfigError) as raised:
        load_bench(path)
    message = str(raised.value)
    assert str(path) in message and key in message and words in message


@pytest.mark.parametrize("edit, key", [
    (lambda t: t.replace('baud = 19200', 'baud = "fast"'), "serial.baud"),
    (lambda t: t.replace('[limits]', '[limits]\nmax_read_regs = 3'), "limits.max_read_regs"),
    (lambda t: t.replace('type = "u32"\nscale = 1000', 'type = "u64"\nscale = 1000', 1), "registers[5].type"),
    (lambda t: t.replace('address = 1\nname = "voltage_l2"', 'address = 0\nname = "voltage_l2"'),
     "registers[1].address"),
    (lambda t: t.replace('free_running = "measurement"', 'free_running = "drifting"', 1),
     "registers[0].free_running"),
    # A free-running value is live: without a band it would have to read exactly.
    (lambda t: t.replace('min = 207\nmax = 253\nfree_running', 'free_running', 1),
     "registers[0].free_running"),
])
def test_bad_profile_names_file_and_key(tmp_path, edit, key):
    path = write(tmp_path, edit(EM1.read_text()), "profile.toml")
    with pytest.raises(ConfigError) as raised:
        load_profile(path)
    assert str(path) in str(raised.value) and key in str(raised.value)


@pytest.mark.parametrize("profile", [EM1, PEERS / "pymodbus-meter.toml"])
def test_python_profile_is_the_emulators_dump(profile):
    """One parser: load_profile is built from `hilbench-emulator --dump-profile`."""
    dumped = subprocess.run([find_tool("hilbench-emulator"), "--profile", str(profile), "--dump-profile"],
                            capture_output=True, text=True, timeout=30, check=True)
    cpp = json.loads(dumped.stdout)
    py = load_profile(profile)
    assert cpp["device"]["unit"] == py.unit
    assert {k: v for k, v in cpp["identity"].items() if v} == py.identity
    cpp_registers = {(r["table"], r["address"]): r for r in cpp["registers"]}
    assert set(cpp_registers) == {(r.table, r.address) for r in py.registers}
    for register in py.registers:
        assert cpp_registers[(register.table, register.address)]["type"] == register.type
        assert cpp_registers[(register.table, register.address)]["words"] == register.raw_words()
        assert cpp_registers[(register.table, register.address)].get("free_running") == \
            register.free_running
    assert py.defects == cpp["defects"]
    if profile == EM1:  # energy and clock count up, measurements move either way
        kinds = {r.name: r.free_running for r in py.registers}
        assert kinds["active_energy_import"] == kinds["clock"] == "counter"
        assert kinds["voltage_l1"] == kinds["clock_ms"] == "measurement"
        assert kinds["ct_ratio"] is None and kinds["event_count"] is None


def test_profile_describes_real_serial_settings_with_defaults(tmp_path):
    text = EM1.read_text().replace('data_bits = 8', 'data_bits = 7').replace('parity = "even"', 'parity = "mark"')
    profile = load_profile(write(tmp_path, text, "7m1.toml"))
    assert (profile.serial.data_bits, profile.serial.parity) == (7, "mark")
    defaults = load_profile(write(tmp_path, EM1.read_text().replace("baud = 19200\n", ""), "d.toml"))
    assert defaults.serial.baud == 9600
    assert profile.sha256 and profile.path == tmp_path / "7m1.toml"


def test_known_defects_come_from_the_emulator():
    listed = json.loads(subprocess.run([find_tool("hilbench-emulator"), "--list-defects"],
                                       capture_output=True, text=True, timeout=30, check=True).stdout)
    knobs = known_defects("meter")
    assert list(knobs) == [k["name"] for k in listed["kinds"]["meter"]]
    assert "illegal_address_returns_data" in knobs and all(knobs.values())
    with pytest.raises(ConfigError, match="unknown device kind"):
        known_defects("kettle")


def test_emulator_refuses_to_present_what_a_pty_cannot_carry(tmp_path):
    path = write(tmp_path, EM1.read_text().replace('parity = "none"', 'parity = "even"'), "8e1.toml")
    result = subprocess.run([find_tool("hilbench-emulator"), "--profile", str(path), "--no-tcp"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 3 and "cannot present" in result.stderr and result.stdout == ""


def test_emulator_refuses_a_bad_profile_with_file_and_key(tmp_path):
    path = write(tmp_path, EM1.read_text().replace('parity = "even"', 'parity = 3'), "profile.toml")
    result = subprocess.run([find_tool("hilbench-emulator"), "--profile", str(path), "--dump-profile"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert str(path) in result.stderr and "parity" in result.stderr


def test_pytest_with_a_broken_bench_file_stops_with_file_and_key(tmp_path):
    path = write(tmp_path, f"schema = 1\n[[devices]]\nprofile = '{EM1}'\nspeed = 3\n"
                           "[devices.tcp]\nhost='127.0.0.1'\nport=1\n")
    result = run_pytest(["suites", "--bench", str(path), "--evidence-dir", str(tmp_path / "ev")])
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert str(path) in result.stderr and "devices[0].speed" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_defect_on_the_command_line_is_a_usage_error(tmp_path):
    result = run_pytest(["suites", "--defect", "no_such_defect", "--evidence-dir", str(tmp_path / "ev")])
    assert result.returncode == 4 and "no_such_defect" in result.stderr


def test_embedded_bench_is_emulated_and_needs_umockdev():
    bench = embedded_bench()
    assert bench.emulated and bench.needs_umockdev() and bench.devices[0].profile.path == EM1
    assert (ROOT / "devices" / "profiles" / "em1-meter.toml").read_text() == EM1.read_text()


# Found by feeding hostile bench files: a NUL byte was accepted (and cut a port name short in
# C), a document nested 5000 deep ended in a RecursionError traceback, and a 50 MB bench
# name was copied into every record and report. Each is now a ConfigError naming the key.
@pytest.mark.parametrize("body, words", [
    ('schema = 1\n[[devices]]\nprofile = \'P\'\n[devices.serial]\nport = "/dev/tty\\u0000S0"\n',
     "devices[0].serial.port: value contains the control character U+0000"),
    ('schema = 1\nname = "lab\\u001b[2J"\n', "name: value contains the control character U+001B"),
    ("schema = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("schema = 1\nx = " + "[" * 40 + "]" * 40 + "\n", "nested deeper than 16 levels"),
    ("schema = 1\nname = '" + "A" * 129 + "'\n", "name: value of 129 characters is longer than "
                                                 "the limit of 128"),
    ("schema = 1\n[[devices]]\nprofile = 'P'\n[devices.tcp]\nhost = '" + "h" * 5000 + "'\nport = 1\n",
     "devices[0].tcp.host: value of 5000 characters"),
    ("schema = 1\nname = '" + "A" * (2 << 20) + "'\n", "larger than 1048576 bytes"),
])
def test_hostile_bench_files_are_refused_by_key(tmp_path, body, words):
    path = write(tmp_path, body.replace("'P'", f"'{EM1}'"))
    with pytest.raises(ConfigError) as raised:
        load_bench(path)
    assert str(path) in str(raised.value) and words in str(raised.value)


def test_pytest_with_a_hostile_bench_file_stops_without_a_traceback(tmp_path):
    path = write(tmp_path, "schema = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run_pytest(["suites", "--bench", str(path), "--evidence-dir", str(tmp_path / "ev")])
    assert result.returncode == 4 and "nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr
