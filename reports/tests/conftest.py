"""Fixtures of the report tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from report_runs import standard_run


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """A sealed run of the standard synthetic suite (see report_runs.standard_run)."""
    directory = tmp_path / "evidence"
    standard_run(directory).finish()
    return directory
