"""The requirement catalog: TOML data in `catalog/`, one file per scheme, indexed by catalog.toml.

Loading validates the data (unique IDs, known confidence tags, modes, kinds, properties and
markets), so a typo in the catalog is an error with file and ID, never a silently missing
requirement.

Properties are the cross-market clusters (catalog.toml [properties]: CL-nn security clusters,
MT-nn metrology, IO-nn interoperability): one property, such as "no universal default
password", has a requirement in many markets. A test may name requirement IDs or properties
(`Catalog.resolve`); a property stands for the bench-testable requirements whose primary
property it is.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import CatalogError

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
CONFIDENCE_TAGS = ("[V]", "[S]", "[U]", "[X]", "[M]")
_MODE_TOKENS = {"B", "B*", "A", "D", "?"}
_PROPERTY = re.compile(r"^[A-Z]{2}-\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ALL_MARKETS = "*"
BENCH_TESTABLE, DOCUMENTARY = "bench-testable", "documentary"
KINDS = (BENCH_TESTABLE, DOCUMENTARY)
# Research-note references are kept in `section`; a public source never names them.
INTERNAL_NOTES = ("markets.md", "metrology-crypto.md", "peers.md")


def kind_from_mode(mode: str) -> str:
    """The kind a requirement without an explicit `kind` gets: bench-testable when its mode
    has a bench part (B, B*), documentary otherwise (A, D, ?)."""
    tokens = {t.strip() for t in re.split(r"[+/]", mode)}
    return BENCH_TESTABLE if tokens & {"B", "B*"} else DOCUMENTARY


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    clause: str
    section: str
    confidence: str
    mode: str
    clusters: tuple[str, ...]
    markets: tuple[str, ...]
    scheme: str
    status_in_source: str | None = None
    parts: str | None = None
    iso30141_domains: tuple[str, ...] = ()
    row: str | None = None
    note: str | None = None
    kind: str = BENCH_TESTABLE
    method: str | None = None  # the public test specification, e.g. ETSI TS 103 701 test group
    applies_from: str | None = None  # ISO date; None: the scheme's
    variant: str | None = None  # what needs a market-specific product variant

    @property
    def canonical_property(self) -> str | None:
        """The canonical (primary) property: the first of `clusters`."""
        return self.clusters[0] if self.clusters else None

    @property
    def bench_testable(self) -> bool:
        return self.kind == BENCH_TESTABLE

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "clause": self.clause,
            "section": self.section, "confidence": self.confidence, "mode": self.mode,
            "kind": self.kind, "property": self.canonical_property,
            "clusters": list(self.clusters), "markets": list(self.markets),
            "scheme": self.scheme, "status_in_source": self.status_in_source,
            "parts": self.parts, "iso30141_domains": list(self.iso30141_domains),
            "row": self.row, "note": self.note, "method": self.method,
            "applies_from": self.applies_from, "variant": self.variant,
        }


@dataclass(frozen=True)
class Scheme:
    id: str
    title: str
    file: str
    markets: tuple[str, ...]
    section: str
    source: str
    scope_note: str | None
    requirement_ids: tuple[str, ...]
    status: str = ""  # in force, voluntary, stalled ... as the research notes give it
    applies_from: str | None = None  # ISO date from which its requirements apply
    milestones: tuple[tuple[str, str], ...] = ()  # (ISO date, event), oldest first


@dataclass(frozen=True)
class Market:
    code: str
    name: str
    regimes: str
    scope_note: str | None = None
    includes: tuple[str, ...] = ()  # markets whose requirements apply here too (DE <- EU)
    status: str = ""


@dataclass(frozen=True)
class Property:
    """A cross-market property (cluster): one claim about the product, a requirement in many
    markets."""

    id: str
    name: str  # a slug tests may use in place of the ID, e.g. no-universal-default-passwords
    title: str
    group: str  # security | metrology | interoperability
    iso30141: tuple[str, ...] = ()  # trustworthiness characteristics it supports


@dataclass(frozen=True)
class Catalog:
    id: str
    version: str
    title: str
    source: str
    confidence_legend: dict[str, str]
    mode_legend: dict[str, str]
    markets: dict[str, Market]
    schemes: tuple[Scheme, ...]
    requirements: dict[str, Requirement] = field(repr=False)
    properties: dict[str, Property] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`id@version`, the form the pytest plugin journals as `catalog_version`."""
        return f"{self.id}@{self.version}"

    def for_market(self, code: str) -> list[Requirement]:
        """All requirements that apply to `code`, in catalog order (scheme by scheme)."""
        return [r for r in self.requirements.values() if code in r.markets]

    def property_named(self, name: str) -> Property | None:
        """A property by its ID (CL-01) or its name (no-universal-default-passwords)."""
        if name in self.properties:
            return self.properties[name]
        return next((p for p in self.properties.values() if p.name == name), None)

    def resolve(self, names: list[str] | tuple[str, ...]) -> tuple[list[str], list[str]]:
        """(requirement IDs, unknown names) for what a test names: requirement IDs as they
        are; a property as the bench-testable requirements whose primary property it is."""
        ids: list[str] = []
        unknown: list[str] = []
        for name in names:
            if name in self.requirements:
                ids.append(name)
                continue
            prop = self.property_named(name)
            if prop is None:
                unknown.append(name)
                continue
            ids.extend(r.id for r in self.requirements.values()
                       if r.canonical_property == prop.id and r.bench_testable)
        return list(dict.fromkeys(ids)), unknown


def load_catalog(catalog_dir: Path | None = None) -> Catalog:
    """Loads and validates the catalog (default: the one shipped with hilbench_reports)."""
    directory = Path(catalog_dir) if catalog_dir is not None else DEFAULT_CATALOG_DIR
    index_path = directory / "catalog.toml"
    index = _read_toml(index_path)
    markets = _markets(index, index_path)
    properties = _properties(index, index_path)
    requirements: dict[str, Requirement] = {}
    schemes = []
    for name in _required(index, "files", list, index_path):
        schemes.append(_load_scheme(directory / name, markets, requirements, properties))
    requirements = _with_included_markets(requirements, markets)
    return Catalog(
        id=_required(index, "id", str, index_path),
        version=_required(index, "version", str, index_path),
        title=str(index.get("title", "")),
        source=str(index.get("source", "")),
        confidence_legend=_legend(index, "confidence", CONFIDENCE_TAGS, index_path),
        mode_legend=dict(index.get("modes", {})),
        markets=markets,
        schemes=tuple(schemes),
        requirements=requirements,
        properties=properties,
    )


def _with_included_markets(requirements: dict[str, Requirement],
                           markets: dict[str, Market]) -> dict[str, Requirement]:
    """A market that includes another (DE includes EU) gets that market's requirements."""
    out = {}
    for rid, requirement in requirements.items():
        extra = [code for code, market in markets.items()
                 if code not in requirement.markets
                 and set(market.includes) & set(requirement.markets)]
        out[rid] = replace(requirement, markets=requirement.markets + tuple(extra)) \
            if extra else requirement
    return out


def _properties(index: dict[str, Any], path: Path) -> dict[str, Property]:
    table = index.get("properties", {})
    if not isinstance(table, dict):
        raise CatalogError(f"{path}: [properties.<ID>] tables expected")
    out = {}
    for pid, entry in table.items():
        where = f"{path} [properties.{pid}]"
        if not _PROPERTY.match(pid) or not isinstance(entry, dict):
            raise CatalogError(f"{where}: a property ID is two capitals, a dash, two digits")
        out[pid] = Property(id=pid, name=_required(entry, "name", str, where),
                            title=_required(entry, "title", str, where),
                            group=str(entry.get("group", "security")),
                            iso30141=tuple(entry.get("iso30141", [])))
    names = [p.name for p in out.values()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CatalogError(f"{path}: property name(s) used twice: {', '.join(duplicates)}")
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise CatalogError(f"{path}: catalog file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise CatalogError(f"{path}: {error}") from None


def _required(table: dict[str, Any], key: str, kind: type, where: Path | str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or (kind is str and not value):
        raise CatalogError(f"{where}: `{key}` must be a non-empty {kind.__name__}")
    return value


def _legend(index: dict[str, Any], key: str, expected: tuple[str, ...],
            path: Path) -> dict[str, str]:
    legend = index.get(key, {})
    missing = [tag for tag in expected if tag not in legend]
    if missing:
        raise CatalogError(f"{path}: [{key}] lacks {', '.join(missing)}")
    return {tag: str(legend[tag]) for tag in expected}


def _markets(index: dict[str, Any], path: Path) -> dict[str, Market]:
    table = index.get("markets")
    if not isinstance(table, dict) or not table:
        raise CatalogError(f"{path}: [markets.<CODE>] tables are required")
    markets = {
        code: Market(code=code, name=_required(entry, "name", str, f"{path} [markets.{code}]"),
                     regimes=str(entry.get("regimes", "")), scope_note=entry.get("scope_note"),
                     includes=tuple(entry.get("includes", [])),
                     status=str(entry.get("status", "")))
        for code, entry in table.items()
    }
    for code, market in markets.items():
        unknown = [m for m in market.includes if m not in markets or m == code]
        if unknown:
            raise CatalogError(f"{path} [markets.{code}]: includes unknown market(s) "
                               f"{', '.join(unknown)}")
    return markets


def _load_scheme(path: Path, markets: dict[str, Market],
                 requirements: dict[str, Requirement],
                 properties: dict[str, Property]) -> Scheme:
    data = _read_toml(path)
    head = data.get("scheme")
    if not isinstance(head, dict):
        raise CatalogError(f"{path}: a [scheme] table is required")
    scheme_id = _required(head, "id", str, path)
    default_markets = _market_list(head.get("markets"), markets, f"{path} [scheme]")
    ids = []
    for entry in data.get("requirement", []):
        requirement = _requirement(entry, scheme_id, default_markets, markets, path,
                                   properties)
        if requirement.id in requirements:
            raise CatalogError(f"{path}: requirement {requirement.id} is defined twice "
                               f"(also in scheme {requirements[requirement.id].scheme})")
        requirements[requirement.id] = requirement
        ids.append(requirement.id)
    if not ids:
        raise CatalogError(f"{path}: scheme {scheme_id} has no [[requirement]]")
    source = str(head.get("source", ""))
    milestones = []
    for item in head.get("milestones", []):
        if not isinstance(item, dict) or not _DATE.match(str(item.get("date", ""))) \
                or not isinstance(item.get("event"), str):
            raise CatalogError(f"{path} [scheme]: a milestone is {{date = \"YYYY-MM-DD\", "
                               f"event = \"...\"}}")
        milestones.append((str(item["date"]), str(item["event"])))
    return Scheme(id=scheme_id, title=_required(head, "title", str, path), file=path.name,
                  markets=default_markets, section=str(head.get("section", "")),
                  source=source, scope_note=head.get("scope_note"),
                  requirement_ids=tuple(ids), status=str(head.get("status", "")),
                  applies_from=_date(head.get("applies_from"), f"{path} [scheme]"),
                  milestones=tuple(sorted(milestones)))


def _date(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value):
        raise CatalogError(f"{where}: dates are ISO strings YYYY-MM-DD, not {value!r}")
    return value


def internal_citations(catalog: Catalog) -> list[str]:
    """Sources that cite our research notes instead of a public reference an auditor can look
    up (the regulation or standard and its clause; the notes' section belongs in `section`).
    A catalog test holds this empty; loading does not refuse it, so one file never stops a
    run."""
    found = [f"scheme {s.id} ({s.file}) source" for s in catalog.schemes
             if any(note in s.source for note in INTERNAL_NOTES)]
    found += [f"requirement {r.id} clause" for r in catalog.requirements.values()
              if any(note in r.clause for note in INTERNAL_NOTES)]
    return found


def _market_list(value: Any, markets: dict[str, Market], where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise CatalogError(f"{where}: `markets` must be a non-empty list")
    if ALL_MARKETS in value:
        return tuple(markets)
    unknown = [m for m in value if m not in markets]
    if unknown:
        raise CatalogError(f"{where}: unknown market(s) {', '.join(map(str, unknown))}")
    return tuple(value)


def _requirement(entry: dict[str, Any], scheme: str, default_markets: tuple[str, ...],
                 markets: dict[str, Market], path: Path,
                 properties: dict[str, Property]) -> Requirement:
    rid = _required(entry, "id", str, path)
    where = f"{path} requirement {rid}"
    confidence = _required(entry, "confidence", str, where)
    if confidence not in CONFIDENCE_TAGS:
        raise CatalogError(f"{where}: confidence {confidence!r} is not one of {CONFIDENCE_TAGS}")
    mode = _required(entry, "mode", str, where)
    tokens = {t.strip() for t in re.split(r"[+/]", mode)}
    if not tokens <= _MODE_TOKENS:
        raise CatalogError(f"{where}: mode {mode!r} uses unknown codes")
    clusters = entry.get("clusters", [])
    if not isinstance(clusters, list) or not all(isinstance(c, str) and _PROPERTY.match(c)
                                                 for c in clusters):
        raise CatalogError(f"{where}: clusters must be a list of property IDs (CL-nn, MT-nn, "
                           f"IO-nn)")
    undefined = [c for c in clusters if properties and c not in properties]
    if undefined:
        raise CatalogError(f"{where}: property {', '.join(undefined)} is not defined in "
                           f"catalog.toml [properties]")
    kind = entry.get("kind", kind_from_mode(mode))
    if kind not in KINDS:
        raise CatalogError(f"{where}: kind {kind!r} is not one of {KINDS}")
    clause = _required(entry, "clause", str, where)
    own_markets = entry.get("markets")
    return Requirement(
        id=rid, title=_required(entry, "title", str, where),
        clause=clause, kind=kind, method=entry.get("method"),
        applies_from=_date(entry.get("applies_from"), where), variant=entry.get("variant"),
        section=_required(entry, "section", str, where),
        confidence=confidence, mode=mode, clusters=tuple(clusters),
        markets=_market_list(own_markets, markets, where) if own_markets else default_markets,
        scheme=scheme, status_in_source=entry.get("status_in_source"), parts=entry.get("parts"),
        iso30141_domains=tuple(entry.get("iso30141_domains", [])), row=entry.get("row"),
        note=entry.get("note"))
