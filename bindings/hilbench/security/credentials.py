"""Default credentials: try the universal defaults of a list given as data
(default-credentials.toml, each list with its source) on a login surface, and check that two
units of one model do not share a password.

A login surface is a callable (user, password) -> bool: True when the device let it in. The
callable owns the protocol (IEC 62056-21 P1, a management service ...); this module only
decides which credentials to try and what the answers mean. Passwords tried are published
defaults, so findings may name them; a unit's own password is never put in a finding."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._core import ConfigError

DEFAULT_LIST = Path(__file__).with_name("default-credentials.toml")

Login = Callable[[str, str], bool]


@dataclass(frozen=True)
class CredentialFinding:
    surface: str
    user: str
    password: str  # a published default, never a unit's own secret
    source: str  # the list's citation


def load_default_credentials(kind: str, path: Path = DEFAULT_LIST) -> list[tuple[str, str, str]]:
    """(user, password, source) for every list that applies to `kind` ("user-password" or
    "password-only"), de-duplicated in list order."""
    try:
        with path.open("rb") as stream:
            document = tomllib.load(stream)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the default credentials: {error}") from None
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str, str]] = []
    for entry in document.get("list", []):
        if kind not in entry.get("applies_to", []):
            continue
        for user, password in entry["credentials"]:
            user = "" if kind == "password-only" else user
            if (user, password) not in seen:
                seen.add((user, password))
                out.append((user, password, f"{entry['source']} {entry['confidence']}"))
    return out


def try_default_credentials(surface: str, login: Login, kind: str,
                            path: Path = DEFAULT_LIST) -> list[CredentialFinding]:
    """Every default credential the surface accepts (empty: none did)."""
    return [CredentialFinding(surface, user, password, source)
            for user, password, source in load_default_credentials(kind, path)
            if login(user, password)]


def units_share_password(password_of_a: str, login_b: Login, user: str = "") -> bool:
    """True when unit B accepts unit A's password (A's own, as the lab set it up or read it
    from A's label): two units of a model must not share one."""
    return login_b(user, password_of_a)
