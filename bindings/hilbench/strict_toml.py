"""Strict TOML reading for bench files: every error is a ConfigError naming the file and the
key path (`devices[0].tcp.port`) and what was expected. (Device profiles are parsed by the
emulator, see profile.py.)"""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ._core import ConfigError


def read_toml(path: Path, what: str) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes (for hashing) and its parsed document."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error.strerror}") from None
    try:
        return raw, tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


class StrictReader:
    """Walks one TOML document, naming file and key path in every error."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def table(self, parent: dict[str, Any], key: str, where: str, required: bool = True) -> dict[str, Any]:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(where, "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {type(value).__name__}")
        return value

    def check_keys(self, table: dict[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                prefix = f"{where}." if where else ""
                raise self.fail(f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def get(self, table: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str,
            default: Any = ..., ) -> Any:
        if key not in table:
            if default is ...:
                raise self.fail(f"{where}.{key}" if where else key, "missing")
            return default
        value = table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int in Python; never accept it where a number is meant.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(f"{where}.{key}" if where else key, f"expected {_names(kinds)}, got bool")
        # A TOML date-time is a date to Python; where a date is meant, it is not one.
        if isinstance(value, datetime) and date in kinds and datetime not in kinds:
            raise self.fail(f"{where}.{key}" if where else key,
                            f"expected {_names(kinds)}, got a date-time")
        if not isinstance(value, kinds):
            raise self.fail(f"{where}.{key}" if where else key,
                            f"expected {_names(kinds)}, got {type(value).__name__}")
        return value


def _names(kinds: tuple[type, ...]) -> str:
    return " or ".join({int: "integer", float: "number", str: "string", bool: "boolean",
                        list: "array", dict: "table", date: "date (YYYY-MM-DD)"
                        }.get(k, k.__name__) for k in kinds)
