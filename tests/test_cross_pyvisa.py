"""Cross-check with independent code: PyVISA with the pure-Python pyvisa-py backend talks to
the emulated DMM over TCPIP::127.0.0.1::PORT::SOCKET, and both it and hilbench's ScpiClient
see the same identity and readings. (PyVISA frames messages itself; a disagreement points
at our client or our emulator.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from hilbench import ScpiClient, TcpTransport
from hilbench.bench import embedded_profile_dir
from hilbench.emulation import start_emulator
from hilbench.profile import load_profile

pyvisa = pytest.importorskip("pyvisa")
pytest.importorskip("pyvisa_py")

DMM = embedded_profile_dir() / "dmm6-reference.toml"


def test_pyvisa_reads_identity_and_dc_voltage_of_the_emulated_dmm(tmp_path: Path) -> None:
    profile = load_profile(DMM)
    reading = profile.data["reading"]
    emulator = start_emulator(DMM, serial=False, log_path=tmp_path / "dmm.log")
    try:
        port = emulator.ready["tcp"]["port"]
        manager = pyvisa.ResourceManager("@py")
        try:
            dmm = manager.open_resource(f"TCPIP::127.0.0.1::{port}::SOCKET",
                                        read_termination="\n", write_termination="\n",
                                        timeout=2000)
            idn = dmm.query("*IDN?").strip()
            volts = float(dmm.query("MEAS:VOLT:DC?"))
            pyvisa_errors = dmm.query("SYST:ERR?").strip()
            dmm.close()
        finally:
            manager.close()
        assert idn == ",".join(profile.identity[key] for key in
                               ("manufacturer", "model", "serial_number", "firmware"))
        assert abs(volts - reading["dc_voltage_v"]) < 6 * reading["noise_v"]
        assert pyvisa_errors == '+0,"No error"'

        ours = ScpiClient(TcpTransport("127.0.0.1", port), timeout=2.0)
        identity = ours.identify()
        assert ",".join(identity[k] for k in ("manufacturer", "model", "serial_number",
                                              "firmware")) == idn
        assert abs(ours.query_number("MEAS:VOLT:DC?") - reading["dc_voltage_v"]) < 6 * reading["noise_v"]
    finally:
        emulator.stop()
