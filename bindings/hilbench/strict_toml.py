"""Strict TOML reading for bench files: every error is a ConfigError naming the file and the
key path (`devices[0].tcp.port`) and what was expected. (Device profiles are parsed by the
emulator, see profile.py.)

Bench files are input hilbench did not write, so everything is bounded (each limit a clear
error): the file's size, its nesting depth, every string's length, and control characters
(a NUL would cut a port name short in C; an escape sequence would rewrite a terminal)."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ._core import ConfigError

MAX_FILE_BYTES = 1 << 20  # a bench file of hundreds of devices is a few tens of KiB
MAX_DEPTH = 16  # tables and arrays inside each other; bench files need 4
MAX_STRING_CHARS = 4096  # paths, hosts, certificate IDs
MAX_NAME_CHARS = 128  # names shown in every report row (`name` keys)


def read_toml(path: Path, what: str) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes (for hashing) and its parsed document."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read {what}: {error.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: {what} larger than {MAX_FILE_BYTES} bytes (the limit)")
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from None
    _check_values(path, document)
    return raw, document


def _check_values(path: Path, document: dict[str, Any]) -> None:
    """Depth, string lengths and control characters of every value (no recursion)."""
    pending: list[tuple[str, Any, int]] = [("", document, 0)]
    while pending:
        where, value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ConfigError(f"{path}: {where}: nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_string(path, where, key, MAX_NAME_CHARS * 2, "key")
                    inner = f"{where}.{key}" if where else key
                else:
                    inner = f"{where}[{key}]"
                pending.append((inner, item, depth + 1))
        elif isinstance(value, str):
            limit = MAX_NAME_CHARS if where.rsplit(".", 1)[-1] == "name" else MAX_STRING_CHARS
            _check_string(path, where, value, limit, "value")


def _check_string(path: Path, where: str, text: str, limit: int, what: str) -> None:
    if len(text) > limit:
        raise ConfigError(f"{path}: {where or '(top)'}: {what} of {len(text)} characters is "
                          f"longer than the limit of {limit}")
    bad = next((c for c in text if c < " " and c != "\t" or c == "\x7f"), None)
    if bad is not None:
        raise ConfigError(f"{path}: {where or '(top)'}: {what} contains the control character "
                          f"U+{ord(bad):04X}")


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
