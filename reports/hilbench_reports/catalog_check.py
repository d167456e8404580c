"""The catalog check: do the tests name only what the catalog knows, and which bench-testable
requirements does no test cover?

Tests name requirement IDs or properties with `@pytest.mark.requirement(...)` (a property
stands for the bench-testable requirements whose canonical property it is:
`Catalog.resolve`). The check collects the tests with pytest (nothing runs, no device is
started) and fails on
  - a name that is neither a requirement ID nor a property of the catalog,
  - a documentary requirement named by a test (it takes an attestation, never a test),
  - a property that stands for no bench-testable requirement;
and lists, without failing, the bench-testable requirements no test covers (per scheme).
`hilbench catalog check [PATHS]` prints it; `check_tests` returns it for a CI test.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .requirement_catalog import Catalog, load_catalog

DEFAULT_PATHS = ("suites",)


@dataclass
class CheckResult:
    catalog: str
    tests: int  # tests collected that name requirements
    unknown: dict[str, list[str]] = field(default_factory=dict)  # name -> test node IDs
    documentary: dict[str, list[str]] = field(default_factory=dict)  # requirement ID -> tests
    empty_properties: dict[str, list[str]] = field(default_factory=dict)
    covered: list[str] = field(default_factory=list)
    uncovered: dict[str, list[str]] = field(default_factory=dict)  # scheme -> requirement IDs
    collection_error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.unknown or self.documentary or self.empty_properties
                    or self.collection_error)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "catalog": self.catalog, "tests": self.tests,
                "unknown": self.unknown, "documentary": self.documentary,
                "empty_properties": self.empty_properties, "covered": self.covered,
                "uncovered_bench_testable": self.uncovered,
                "uncovered_count": sum(len(v) for v in self.uncovered.values()),
                "collection_error": self.collection_error}


def check_markers(catalog: Catalog, markers: dict[str, list[str]]) -> CheckResult:
    """The check over `markers` (test node ID -> names given to its requirement marker)."""
    result = CheckResult(catalog=catalog.label, tests=sum(1 for n in markers.values() if n))
    covered: set[str] = set()
    for nodeid, names in sorted(markers.items()):
        for name in names:
            ids, unknown = catalog.resolve([name])
            if unknown:
                result.unknown.setdefault(name, []).append(nodeid)
            elif name in catalog.requirements and not catalog.requirements[name].bench_testable:
                result.documentary.setdefault(name, []).append(nodeid)
            elif not ids:
                result.empty_properties.setdefault(name, []).append(nodeid)
            covered.update(ids)
    result.covered = sorted(covered)
    for scheme in catalog.schemes:
        missing = [rid for rid in scheme.requirement_ids
                   if catalog.requirements[rid].bench_testable and rid not in covered]
        if missing:
            result.uncovered[scheme.id] = missing
    return result


def collect_markers(paths: list[str]) -> tuple[dict[str, list[str]], str]:
    """Runs pytest's collection only over `paths`: (node ID -> requirement marker names,
    error text if collection failed). The hilbench plugin's own check of the names is what
    this check reports in full, so its names are read before that plugin refuses them."""
    import pytest

    markers: dict[str, list[str]] = {}

    class Collector:
        @pytest.hookimpl(tryfirst=True)
        def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
            for item in items:
                names = [str(a) for m in item.iter_markers("requirement") for a in m.args]
                if names:
                    markers[item.nodeid] = list(dict.fromkeys(names))

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *paths],
                           plugins=[Collector()])
    # Usage error (4) is the plugin refusing unknown names: those are in `markers` already.
    error = "" if code in (0, 4, 5) else \
        f"pytest collection failed (exit {int(code)}):\n{output.getvalue()[-3000:]}"
    return markers, error


def check_tests(paths: list[str] | None = None, catalog_dir: Path | None = None) -> CheckResult:
    markers, error = collect_markers(list(paths or DEFAULT_PATHS))
    result = check_markers(load_catalog(catalog_dir), markers)
    result.collection_error = error
    return result


def render_text(result: CheckResult) -> str:
    lines = [f"catalog {result.catalog}: {result.tests} tests name requirements; "
             f"{len(result.covered)} requirements covered"]
    for title, table in (("unknown requirement IDs or properties", result.unknown),
                         ("documentary requirements named by a test (they take an "
                          "attestation, not a test)", result.documentary),
                         ("properties with no bench-testable requirement", result.empty_properties)):
        if table:
            lines.append(f"ERROR: {title}:")
            lines += [f"  {name}: {', '.join(nodes[:3])}{' ...' if len(nodes) > 3 else ''}"
                      for name, nodes in sorted(table.items())]
    if result.collection_error:
        lines.append(f"ERROR: {result.collection_error}")
    count = sum(len(v) for v in result.uncovered.values())
    lines.append(f"bench-testable requirements no test covers: {count}")
    for scheme, ids in result.uncovered.items():
        lines.append(f"  {scheme} ({len(ids)}): {' '.join(ids)}")
    lines.append("OK" if result.ok else "FAILED")
    return "\n".join(lines)
