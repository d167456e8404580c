"""Fixtures for hilbench's own Python tests (a lab's test folder needs no conftest.py)."""

from hilbench_testing import in_preload, pymodbus_peer, silent_server  # noqa: F401  (fixtures)
