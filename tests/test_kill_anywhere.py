"""Kill at any moment: the interface suites SIGKILLed at many points — between records, after
the last test but before the seal, while the reports are written — leaves evidence that
`hilbench verify` checks, naming the last record and the test that was running, and no
emulator process or umockdev testbed behind it."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from hilbench_testing import ROOT, run_pytest

KILL_PLUGIN_DIR = Path(__file__).parent / "kill"


def wait_for_exit(pid: int, timeout: float) -> bool:
    """True once process `pid` has exited (pidfd: an event, not polling), or was gone."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([pidfd], [], [], timeout)[0])
    finally:
        os.close(pidfd)


@pytest.mark.parametrize("point", ["record:1", "record:4", "record:12", "record:30",
                                   "record:50", "seal", "report:1", "report:6"])
def test_a_run_killed_at_any_moment_leaves_verifiable_evidence(tmp_path: Path, point: str) -> None:
    evidence = tmp_path / "evidence"
    env = dict(os.environ, KILL_AT=point,
               PYTHONPATH=os.pathsep.join(filter(None, [str(KILL_PLUGIN_DIR),
                                                        os.environ.get("PYTHONPATH")])))
    # The interface suites only: the kill points are in the journal and the report writers,
    # which every folder exercises alike; the whole default run (2+ minutes, and the metrology
    # and timing folders' waits) would only make the seal and report points slower.
    result = run_pytest(["suites/interface", "-p", "kill_at", "--evidence-dir", str(evidence)],
                        env=env)
    assert result.returncode == -signal.SIGKILL, result.stdout[-2000:] + result.stderr[-2000:]

    verified = subprocess.run([sys.executable, "-m", "hilbench.cli", "verify", str(evidence),
                               "--json"],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    report = json.loads(verified.stdout)
    lines = (evidence / "journal.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    journal = report["journal"]
    assert journal["state"] in ("unsealed", "intact"), journal  # never "broken"
    assert journal["records"] == len(records)
    assert report["last_record"]["seq"] == records[-1]["seq"]
    assert report["last_record"]["type"] == records[-1]["type"]
    running = [r["data"]["nodeid"] for r in records if r["type"] == "test_started"]
    finished = {r["data"]["nodeid"] for r in records if r["type"] == "test_finished"}
    assert report["interrupted_tests"] == [n for n in running if n not in finished]
    if point.startswith("record:"):
        assert journal["state"] == "unsealed" and verified.returncode == 1
        assert len(records) == int(point.split(":")[1])
    if point == "seal":
        assert records[-1]["type"] == "run_finished" and journal["state"] == "unsealed"
    if point.startswith("report:"):  # sealed before the reports: the evidence is whole
        assert journal["state"] == "intact" and verified.returncode == 0

    # Nothing left behind: every child exits when its lifeline closes, and removes its
    # umockdev testbed
    # (the presenter, which hosts the serial ports, removes the testbed when it exits).
    children = [r["data"] for r in records if r["type"] in ("emulator_started", "presenter_started")]
    assert children or point == "record:1"
    for child in children:
        assert wait_for_exit(child["pid"], timeout=10), child
        testbed = child["ready"].get("umockdev_dir") or (child["ready"].get("serial") or {}).get(
            "umockdev_dir")
        if testbed:
            assert not Path(testbed).exists(), child
