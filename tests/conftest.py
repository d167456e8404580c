"""Fixtures for hilbench's own Python tests (a lab's test folder needs no conftest.py)."""

from hilbench_testing import in_preload, pymodbus_peer, silent_server  # noqa: F401  (fixtures)

# The throwaway plug-in's own suite runs only inside tests/test_plugins.py, where the plug-in
# is installed; collected here, its import of hb_demo_plugin would fail.
collect_ignore = ["plugin_package"]
