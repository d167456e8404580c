"""hilbench_reports: per-market certification evidence reports built from a run's journal.

A report is a pure function of (evidence directory, requirement catalog): build_reports reads
EVIDENCE_DIR/journal.jsonl (verified by hilbench._core.verify_journal first) and the TOML
catalog, and writes HTML and JSON per market. verify_evidence is the offline check of an
evidence directory; load_catalog gives the catalog (the pytest plugin selects tests with it).
"""

from .build import build_reports
from .errors import CatalogError, EvidenceError, ReportError, SchemaError
from .requirement_catalog import Catalog, Market, Requirement, load_catalog
from .verify import verify_evidence

__all__ = [
    "Catalog",
    "CatalogError",
    "EvidenceError",
    "Market",
    "ReportError",
    "Requirement",
    "SchemaError",
    "build_reports",
    "load_catalog",
    "verify_evidence",
]
