"""The requirement catalog: TOML data in `catalog/`, one file per scheme, indexed by catalog.toml.

Loading validates the data (unique IDs, known confidence tags, modes, clusters and markets), so
a typo in the catalog is an error with file and ID, never a silently missing requirement.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import CatalogError

DEFAULT_CATALOG_DIR = Path(__file__).resolve().parent / "catalog"
CONFIDENCE_TAGS = ("[V]", "[S]", "[U]")
_MODE_TOKENS = {"B", "B*", "A", "D", "?"}
_CLUSTER = re.compile(r"^CL-\d{2}$")
ALL_MARKETS = "*"


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "clause": self.clause,
            "section": self.section, "confidence": self.confidence, "mode": self.mode,
            "clusters": list(self.clusters), "markets": list(self.markets),
            "scheme": self.scheme, "status_in_source": self.status_in_source,
            "parts": self.parts, "iso30141_domains": list(self.iso30141_domains),
            "row": self.row, "note": self.note,
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


@dataclass(frozen=True)
class Market:
    code: str
    name: str
    regimes: str
    scope_note: str | None = None


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

    @property
    def label(self) -> str:
        """`id@version`, the form the pytest plugin journals as `catalog_version`."""
        return f"{self.id}@{self.version}"

    def for_market(self, code: str) -> list[Requirement]:
        """All requirements that apply to `code`, in catalog order (scheme by scheme)."""
        return [r for r in self.requirements.values() if code in r.markets]


def load_catalog(catalog_dir: Path | None = None) -> Catalog:
    """Loads and validates the catalog (default: the one shipped with hilbench_reports)."""
    directory = Path(catalog_dir) if catalog_dir is not None else DEFAULT_CATALOG_DIR
    index_path = directory / "catalog.toml"
    index = _read_toml(index_path)
    markets = _markets(index, index_path)
    requirements: dict[str, Requirement] = {}
    schemes = []
    for name in _required(index, "files", list, index_path):
        schemes.append(_load_scheme(directory / name, markets, requirements))
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
    )


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
    return {
        code: Market(code=code, name=_required(entry, "name", str, f"{path} [markets.{code}]"),
                     regimes=str(entry.get("regimes", "")), scope_note=entry.get("scope_note"))
        for code, entry in table.items()
    }


def _load_scheme(path: Path, markets: dict[str, Market],
                 requirements: dict[str, Requirement]) -> Scheme:
    data = _read_toml(path)
    head = data.get("scheme")
    if not isinstance(head, dict):
        raise CatalogError(f"{path}: a [scheme] table is required")
    scheme_id = _required(head, "id", str, path)
    default_markets = _market_list(head.get("markets"), markets, f"{path} [scheme]")
    ids = []
    for entry in data.get("requirement", []):
        requirement = _requirement(entry, scheme_id, default_markets, markets, path)
        if requirement.id in requirements:
            raise CatalogError(f"{path}: requirement {requirement.id} is defined twice "
                               f"(also in scheme {requirements[requirement.id].scheme})")
        requirements[requirement.id] = requirement
        ids.append(requirement.id)
    if not ids:
        raise CatalogError(f"{path}: scheme {scheme_id} has no [[requirement]]")
    return Scheme(id=scheme_id, title=_required(head, "title", str, path), file=path.name,
                  markets=default_markets, section=str(head.get("section", "")),
                  source=str(head.get("source", "")), scope_note=head.get("scope_note"),
                  requirement_ids=tuple(ids))


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
                 markets: dict[str, Market], path: Path) -> Requirement:
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
    if not isinstance(clusters, list) or not all(isinstance(c, str) and _CLUSTER.match(c)
                                                 for c in clusters):
        raise CatalogError(f"{where}: clusters must be a list of CL-nn")
    own_markets = entry.get("markets")
    return Requirement(
        id=rid, title=_required(entry, "title", str, where),
        clause=_required(entry, "clause", str, where),
        section=_required(entry, "section", str, where),
        confidence=confidence, mode=mode, clusters=tuple(clusters),
        markets=_market_list(own_markets, markets, where) if own_markets else default_markets,
        scheme=scheme, status_in_source=entry.get("status_in_source"), parts=entry.get("parts"),
        iso30141_domains=tuple(entry.get("iso30141_domains", [])), row=entry.get("row"),
        note=entry.get("note"))
