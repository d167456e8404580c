"""Errors of the report builder (the harness' own errors live in hilbench._core)."""

from __future__ import annotations


class ReportError(Exception):
    """Base of every error hilbench_reports raises."""


class CatalogError(ReportError):
    """The requirement catalog is malformed (names the file and the requirement)."""


class EvidenceError(ReportError):
    """The evidence directory cannot be read as a hilbench run (e.g. no journal)."""


class SchemaError(EvidenceError):
    """The journal was written with a record schema this version does not read."""
