"""The product file: what the lab states beside the evidence — lab, customer, the item
(model, firmware, image hash), decision rule, environment, sign-off, and the attestations
for documentary requirements (a file or URL with its SHA-256).

Read from EVIDENCE_DIR/product.toml (the pytest option --product copies it there) or from a
path given to `hilbench report --product`. Every report records the file's SHA-256, so the
report stays a pure function of its inputs (evidence dir, catalog, product file). A file
attestation is checked against its recorded digest (relative paths resolve from the product
file's folder); a URL is never fetched (reports are built offline): its declared digest is
shown as declared.

    [lab]        name, address, accreditation, location
    [customer]   name, contact
    [product]    model, serial, firmware, image_sha256, condition, received (ISO date)
    [report]     title, issued (ISO date; default: the date of the journal's last record)
    [decision_rule]  text (default: simple acceptance, ILAC-G8:09/2019 §4.2.1)
    [environment]    free keys, e.g. temperature = "23 ± 2 °C"
    [signoff]    tested_by, reviewed_by, approved_by (names; signatures are added on paper)
    [[attestation]]  requirements = ["UK-PSTI-S1.2"] and/or properties = ["CL-06"];
                     title; file = "docs/vdp.pdf" or url = "https://..."; sha256
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ReportError
from .requirement_catalog import Catalog

PRODUCT_FILE = "product.toml"
DEFAULT_DECISION_RULE = (
    "Simple acceptance (ILAC-G8:09/2019 §4.2.1, binary statement, no guard band): a "
    "requirement passes when every test linked to it reached a verdict and passed; a limit "
    "check passes when the measured value lies within the limit. Measurement uncertainty is "
    "stated with each measured result where the method gives it.")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
ATTACHED, DECLARED_URL, MISMATCH, FILE_MISSING = (
    "attached", "declared (URL, not fetched)", "digest mismatch", "file missing")


@dataclass(frozen=True)
class Attestation:
    title: str
    requirements: tuple[str, ...]  # resolved IDs (properties expanded to documentary ones)
    location: str  # the file path or the URL as given
    sha256: str
    state: str  # ATTACHED | DECLARED_URL | MISMATCH | FILE_MISSING

    @property
    def valid(self) -> bool:
        return self.state in (ATTACHED, DECLARED_URL)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "requirements": list(self.requirements),
                "location": self.location, "sha256": self.sha256, "state": self.state,
                "valid": self.valid}


@dataclass(frozen=True)
class ProductFile:
    path: str | None  # as found; None: no product file
    sha256: str | None
    data: dict[str, Any] = field(default_factory=dict)
    attestations: tuple[Attestation, ...] = ()

    def table(self, name: str) -> dict[str, str]:
        value = self.data.get(name)
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def for_requirement(self, rid: str) -> list[Attestation]:
        return [a for a in self.attestations if rid in a.requirements]


NO_PRODUCT = ProductFile(path=None, sha256=None)


def find_product_file(evidence_dir: Path, explicit: Path | None) -> Path | None:
    if explicit is not None:
        return Path(explicit)
    candidate = Path(evidence_dir) / PRODUCT_FILE
    return candidate if candidate.is_file() else None


def load_product(path: Path | None, catalog: Catalog) -> ProductFile:
    """Reads and checks a product file; None gives the empty one (everything "not stated")."""
    if path is None:
        return NO_PRODUCT
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ReportError(f"{path}: product file cannot be read ({error.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ReportError(f"{path}: {error}") from None
    attestations = tuple(_attestation(entry, i, path, catalog)
                         for i, entry in enumerate(data.get("attestation", []), 1))
    return ProductFile(path=path.name, sha256=hashlib.sha256(raw).hexdigest(), data=data,
                       attestations=attestations)


def _attestation(entry: Any, index: int, path: Path, catalog: Catalog) -> Attestation:
    where = f"{path} [[attestation]] #{index}"
    if not isinstance(entry, dict):
        raise ReportError(f"{where}: a table is expected")
    ids = [str(r) for r in entry.get("requirements", [])]
    unknown = [r for r in ids if r not in catalog.requirements]
    for name in entry.get("properties", []):
        prop = catalog.property_named(str(name))
        if prop is None:
            unknown.append(str(name))
            continue
        ids += [r.id for r in catalog.requirements.values()
                if prop.id in r.clusters and not r.bench_testable]
    if unknown:
        raise ReportError(f"{where}: unknown requirement(s) or propert(ies) {', '.join(unknown)}")
    if not ids:
        raise ReportError(f"{where}: names no documentary requirement")
    digest = str(entry.get("sha256", "")).lower()
    if not _SHA256.match(digest):
        raise ReportError(f"{where}: sha256 must be 64 hex digits")
    file, url = entry.get("file"), entry.get("url")
    if bool(file) == bool(url):
        raise ReportError(f"{where}: give exactly one of `file` and `url`")
    if url:
        location, state = str(url), DECLARED_URL
    else:
        location = str(file)
        target = (path.parent / location)
        if not target.is_file():
            state = FILE_MISSING
        else:
            state = ATTACHED if hashlib.sha256(target.read_bytes()).hexdigest() == digest \
                else MISMATCH
    return Attestation(title=str(entry.get("title", location)),
                       requirements=tuple(dict.fromkeys(ids)), location=location,
                       sha256=digest, state=state)
