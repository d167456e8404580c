"""Default credentials on a real login surface: the IEC 62056-21 P1 password of the emulated
EM-1's optical port (umockdev port, our client through libserialport). The stock EM-1 has a
P1 password of its own and passes; with the `universal_password` knob P1 also opens with
00000000, which the check finds. Two units with passwords of their own pass the two-unit
check; two that share one are reported.

Not yet here (issue 12, next session): the emulator deriving a per-unit password itself and a
TLS management login surface."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hilbench import Iec62056Client, Iec62056Error, SerialTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import optical_adapter_serial, start_emulator
from hilbench.security.credentials import try_default_credentials, units_share_password

EM1 = embedded_profile_dir() / "em1-meter.toml"
STOCK_PASSWORD = 'password = "58204719"'


def _unit_profile(folder: Path, serial: str, password: str) -> Path:
    text = EM1.read_text()
    assert STOCK_PASSWORD in text and 'serial_number = "EM1-2026-000123"' in text
    text = text.replace(STOCK_PASSWORD, f'password = "{password}"')
    text = text.replace('serial_number = "EM1-2026-000123"', f'serial_number = "{serial}"')
    path = folder / f"{serial}.toml"
    path.write_text(text)
    return path


@contextmanager
def p1_login(profile: Path, log: Path, monkeypatch: pytest.MonkeyPatch,
             defects: tuple[str, ...] = ()) -> Iterator[Callable[[str, str], bool]]:
    emulator = start_emulator(profile, defects=defects, serial=False, tcp=False, log_path=log,
                              optical_serial=optical_adapter_serial("em1"))
    try:
        optical = emulator.ready["optical"]
        monkeypatch.setenv("UMOCKDEV_DIR", optical["umockdev_dir"])
        transport = SerialTransport(optical["device_path"], baud=300, data_bits=7,
                                    parity="even", stop_bits=1)
        client = Iec62056Client(transport, max_baud=9600)

        def login(user: str, password: str) -> bool:
            try:
                client.open_programming(password)
            except Iec62056Error:
                return False
            client.end_programming()
            return True

        yield login
        del client, transport
    finally:
        emulator.stop()


def test_stock_em1_passes_and_the_knob_is_found(tmp_path, monkeypatch, in_preload) -> None:
    with p1_login(EM1, tmp_path / "em1.log", monkeypatch) as login:
        assert try_default_credentials("iec62056-21 P1", login, "password-only") == []
    with p1_login(EM1, tmp_path / "knob.log", monkeypatch, ("universal_password",)) as login:
        findings = try_default_credentials("iec62056-21 P1", login, "password-only")
        assert login("", "58204719")  # the unit's own password still works
    assert [f.password for f in findings] == ["00000000"]
    assert "[U]" in findings[0].source


def test_units_with_own_passwords_pass_and_shared_ones_are_found(tmp_path, monkeypatch,
                                                                 in_preload) -> None:
    unit_a = _unit_profile(tmp_path, "EM1-2026-000201", "48213957")
    unit_b = _unit_profile(tmp_path, "EM1-2026-000202", "70581346")
    unit_c = _unit_profile(tmp_path, "EM1-2026-000203", "48213957")  # shares A's password
    with p1_login(unit_b, tmp_path / "b.log", monkeypatch) as login_b:
        assert try_default_credentials("iec62056-21 P1", login_b, "password-only") == []
        assert units_share_password("48213957", login_b) is False
    with p1_login(unit_c, tmp_path / "c.log", monkeypatch) as login_c:
        assert units_share_password("48213957", login_c) is True
    assert unit_a.exists()
