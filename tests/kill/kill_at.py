"""A pytest plugin (loaded with -p kill_at) that SIGKILLs its own session at one chosen
moment, as a power cut or an OOM killer would: KILL_AT=record:N (just after the N-th journal
record is durable), seal (after run_finished, before the seal), report:N (after the N-th
report file is written). Used by tests/test_kill_anywhere.py only."""

from __future__ import annotations

import os
import signal
from typing import Any

from hilbench_pytest import evidence
from hilbench_reports import writers

POINT, _, COUNT = os.environ["KILL_AT"].partition(":")
LIMIT = int(COUNT or 0)
_seen = 0


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _counting(original: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _seen
        result = original(*args, **kwargs)
        _seen += 1
        if _seen == LIMIT:
            _die()
        return result
    return wrapper


if POINT == "record":
    evidence.EvidenceSession.record = _counting(evidence.EvidenceSession.record)  # type: ignore[method-assign]
elif POINT == "report":
    writers.write_text = _counting(writers.write_text)
elif POINT == "seal":
    def run_finished(self: evidence.EvidenceSession, exitstatus: int) -> None:
        self.record("run_finished", {"exitstatus": int(exitstatus), "counts": dict(self.counts)})
        _die()
    evidence.EvidenceSession.run_finished = run_finished  # type: ignore[method-assign]
