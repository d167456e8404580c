"""The Python-side readers of untrusted input, fuzzed with hypothesis: whatever a bench file
or a journal holds, the answer is a clear error of ours (ConfigError, ReportError) or a
result — never another exception, a hang or an unescaped string in a report.

Deterministic (derandomize): CI runs the same examples every time; a failure prints the
example that reproduces it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hilbench import ConfigError, Journal
from hilbench.bench import embedded_profile_dir, load_bench
from hilbench_reports import ReportError, build_reports

EM1 = embedded_profile_dir() / "em1-meter.toml"
VALID_BENCH = f"""schema = 1
name = "lab"
[[devices]]
name = "meter"
profile = "{EM1}"
driver = "modbus"
[devices.serial]
usb_serial = "FT1"
baud = 9600
parity = "even"
[devices.tcp]
host = "127.0.0.1"
port = 502
[devices.calibration]
certificate = "C-1"
due = 2027-01-01
"""
# No example database: CI runs exactly the derandomized examples; no shrinking (it can take
# minutes on these inputs) — a failure prints its whole example instead.
FUZZ = settings(derandomize=True, database=None, max_examples=150, deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

# Edits of a valid bench file: at a position, delete some characters and insert others
# drawn from what TOML and bench files are made of, plus hostile characters.
pieces = st.sampled_from(list('[]{}=".,\n#\\u0\x00\x1b 9aé') +
                         ["true", "1e999", '"""', "devices", "port", "-1", "2027-13-40"])
edits = st.lists(st.tuples(st.integers(0, len(VALID_BENCH)), st.integers(0, 8),
                           st.lists(pieces, max_size=4).map("".join)),
                 min_size=1, max_size=6)


@FUZZ
@given(edits)
def test_any_edit_of_a_bench_file_is_loaded_or_refused_with_a_config_error(tmp_path_factory,
                                                                           edit_list):
    text = VALID_BENCH
    for position, deleted, inserted in edit_list:
        position = min(position, len(text))
        text = text[:position] + inserted + text[position + deleted:]
    path = tmp_path_factory.mktemp("bench") / "bench.toml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_bench(path)
    except ConfigError as error:
        assert str(path) in str(error)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                 max_size=4),
    max_leaves=20)
record_types = st.sampled_from(["run_started", "dut", "dut_identity", "test_started",
                                "test_finished", "exchange", "observation", "run_finished",
                                "connection_lost", "x-unknown"])
record_data = st.dictionaries(
    st.sampled_from(["nodeid", "requirements", "outcome", "markets", "name", "declared_identity",
                     "endpoints", "calibration", "evidence", "bench", "reported", "differs",
                     "fields", "request_hex", "dut", "message", "value", "defects"]),
    json_values, max_size=8)


@FUZZ
@given(st.lists(st.tuples(record_types, record_data), max_size=12), st.booleans())
def test_any_journal_of_well_chained_records_reports_or_is_refused_clearly(tmp_path_factory,
                                                                           records, seal):
    """The chain is real (written by the Journal binding); what the records hold is not what
    hilbench writes. Reports must still build, or refuse with a ReportError."""
    directory: Path = tmp_path_factory.mktemp("evidence")
    journal = Journal(str(directory / "journal.jsonl"))
    for kind, data in records:
        journal.append(kind, data)
    if seal:
        journal.seal()
    journal.close()
    try:
        written = build_reports(directory)
    except ReportError:
        return
    for path in written:
        if path.suffix == ".html":
            assert "<script" not in path.read_text(encoding="utf-8").lower()
