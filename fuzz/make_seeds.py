#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from scratch.

Seeds are small on purpose: valid frames of each kind, a few malformed ones, a sealed
3-record journal, the EM-1 profile. Regression seeds for bugs fuzzing found are added by
hand as corpus/<target>/regression-*; this script never removes them.
Run: python3 fuzz/make_seeds.py
"""
import hashlib
import json
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"


def crc16(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def rtu(unit: int, pdu: bytes) -> bytes:
    frame = bytes([unit]) + pdu
    return frame + struct.pack("<H", crc16(frame))


def mbap(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def device_id(more: int = 0, next_id: int = 0, objects=((0, b"hilbench"), (1, b"HB-EM1"), (2, b"1.4.2"))) -> bytes:
    body = bytes([0x2B, 0x0E, 0x01, 0x81, more, next_id, len(objects)])
    for oid, value in objects:
        body += bytes([oid, len(value)]) + value
    return body


PDUS = {
    "fc03_two_registers": bytes([0x03, 4, 0x12, 0x34, 0x56, 0x78]),
    "fc04_one_register": bytes([0x04, 2, 0x00, 0x2A]),
    "fc01_coils": bytes([0x01, 1, 0b101]),
    "fc05_echo": bytes([0x05, 0x00, 0x03, 0xFF, 0x00]),
    "fc06_echo": bytes([0x06, 0x00, 0x01, 0x00, 0x07]),
    "fc10_echo": bytes([0x10, 0x00, 0x00, 0x00, 0x03]),
    "exception_illegal_address": bytes([0x83, 0x02]),
    "fc2b_device_id": device_id(),
    "fc2b_device_id_more_follows": device_id(more=0xFF, next_id=3),
    "fc08_diagnostics": bytes([0x08, 0x00, 0x00, 0xA5, 0x37]),
}


def write(target: str, name: str, data: bytes) -> None:
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def modbus_seeds() -> None:
    for name, pdu in PDUS.items():
        write("fuzz_modbus_rtu", name, rtu(1, pdu))
        write("fuzz_modbus_tcp", name, mbap(1, 1, pdu))
    write("fuzz_modbus_rtu", "bad_crc", rtu(1, PDUS["fc03_two_registers"])[:-1] + b"\x00")
    write("fuzz_modbus_rtu", "short", b"\x01\x03")
    write("fuzz_modbus_rtu", "byte_count_too_long", rtu(1, bytes([0x03, 200, 0, 1])))
    write("fuzz_modbus_tcp", "protocol_id_1", struct.pack(">HHHB", 1, 1, 3, 1) + b"\x03\x00")
    write("fuzz_modbus_tcp", "length_too_long", struct.pack(">HHHB", 1, 0, 300, 1) + b"\x03\x00")
    write("fuzz_modbus_tcp", "header_only", struct.pack(">HHHB", 1, 0, 1, 1))

    # Client: [flags][chunking][unit][count] + device bytes (fuzz_modbus_client.cpp).
    regs = bytes([0x03, 4, 0x12, 0x34, 0x56, 0x78])
    ident = device_id()
    for framing, flag in (("rtu", 1), ("tcp", 0)):
        if framing == "rtu":
            answers = rtu(1, regs) + rtu(1, ident)
        else:
            answers = mbap(1, 1, regs) + mbap(2, 1, ident)
        write("fuzz_modbus_client", f"{framing}_registers_then_identity", bytes([flag, 0, 1, 1]) + answers)
        write("fuzz_modbus_client", f"{framing}_registers_then_identity_1byte_reads",
              bytes([flag | 2, 0x00 if framing == "tcp" else 0x01, 1, 1]) + answers)
        write("fuzz_modbus_client", f"{framing}_split_reads", bytes([flag, 0b11100100, 1, 1]) + answers)
        exc = rtu(1, bytes([0x83, 0x02])) if framing == "rtu" else mbap(1, 1, bytes([0x83, 0x02]))
        write("fuzz_modbus_client", f"{framing}_exception", bytes([flag, 0, 1, 1]) + exc)
        write("fuzz_modbus_client", f"{framing}_silence", bytes([flag, 0, 1, 1]))
    # sequence 1: extended identity over two requests ("more follows"), then registers
    two_part = rtu(1, device_id(more=0xFF, next_id=3)) + rtu(1, device_id(objects=((3, b"url"),)))
    write("fuzz_modbus_client", "rtu_identity_more_follows", bytes([1 | 4, 0, 1, 1]) + two_part + rtu(1, regs))
    # sequence 3: transact of FC 08 (length unknowable: read until silence)
    write("fuzz_modbus_client", "rtu_fc08_until_silence",
          bytes([1 | 12, 0, 1, 8]) + rtu(1, bytes([0x08, 0, 1, 0xA5, 0x37])))
    write("fuzz_modbus_client", "tcp_late_answer_skipped",
          bytes([12, 0, 1, 3]) + mbap(7, 1, regs) + mbap(1, 1, bytes([0x03, 0x02, 0, 0])))


def iec_block(start: int, inside: bytes, end: int = 0x03) -> bytes:
    check = 0
    for byte in inside + bytes([end]):
        check ^= byte
    return bytes([start]) + inside + bytes([end, check])


def iec62056_seeds() -> None:
    readout = (b"C.1.0(EM1-2026-000123)\r\n0.9.1(12:00:00)\r\n1.8.0(12345.678*kWh)\r\n"
               b"1.6.0(0012.3*kW)(26-12-02 10:15)\r\n!\r\n")
    seeds = {
        "identification": b"/HBL5EM1\r\n",
        "identification_fast": b"/ISk5MT174-0001\r\n",
        "identification_mode_b": b"/HBLEEM1\r\n",
        "readout": iec_block(0x02, readout),
        "readout_bad_bcc": iec_block(0x02, readout)[:-1] + b"\x00",
        "password_request": iec_block(0x01, b"P0\x02(EM1-2026-000123)"),
        "break": iec_block(0x01, b"B0"),
        "error_answer": iec_block(0x02, b"(ER05)"),
        "partial_block": iec_block(0x02, b"1.8.0(1*kWh)\r\n", 0x04),
        "unbalanced": iec_block(0x02, b"1.8.0(1*kWh\r\n!\r\n"),
    }
    for name, data in seeds.items():
        write("fuzz_iec62056_codec", name, data)


def scpi_seeds() -> None:
    # [selector] + bytes; selector bit 0 = CR LF terminator
    seeds = {
        "idn": b"\x00HILBENCH,DMM-6,SN123,1.0.2\n",
        "number_nr3": b"\x00+1.234567E+00\n",
        "numbers_list": b"\x00 1, -2.5 ,3E-3,9.9E37\n",
        "error_entry": b"\x00-113,\"Undefined header\"\n",
        "no_error": b"\x000,\"No error\"\n",
        "string_doubled_quotes": b"\x00\"say \"\"hi\"\"\"\n",
        "string_single_quotes": b"\x00'abc'\n",
        "definite_block_with_newline": b"\x00#15ab\ncd\n",
        "definite_block_crlf": b"\x01#203\r\n\x00\r\n",
        "indefinite_block": b"\x00#0raw bytes\n",
        "block_bad_header": b"\x00#x12\n",
        "block_length_not_digits": b"\x00#3ab1xyz\n",
        "mixed_elements": b"\x00\"a,b\",#13xyz,42\n",
        "crlf_terminator": b"\x01 +5.000E+00\r\n",
        "unterminated": b"\x00+1.0",
    }
    for name, data in seeds.items():
        write("fuzz_scpi_codec", name, data)

    # Client: [flags][chunking] + instrument bytes (fuzz_scpi_client.cpp). flags bit 0 close at
    # end, bit 1 CR LF, bits 2..3 the call sequence; every message is followed by its drain.
    ok = b'0,"No error"\n'
    client = {
        "idn_then_measure": bytes([0, 0]) + b"HB,DMM-6,SN1,1.0\n" + ok + b"+1.5E+00\n" + ok,
        "idn_split_reads": bytes([0, 0b11100100]) + b"HB,DMM-6,SN1,1.0\n" + ok + b"+1.5E+00\n" + ok,
        "idn_crlf": bytes([2, 0]) + b"HB,DMM-6,SN1,1.0\r\n0,\"No error\"\r\n",
        "command_then_error_queue": bytes([4, 0]) + b'-222,"Data out of range"\n' + ok + b"+16\n" + ok
        + b'-100,"Command error"\n' + ok,
        "queue_never_empties": bytes([4, 0]) + b'-350,"Queue overflow"\n' * 12,
        "block_then_stb": bytes([8, 0]) + b"#15hello\n" + ok + b"+0\n" + ok,
        "indefinite_block": bytes([8, 0]) + b"#0raw\n" + ok,
        "reset_opc": bytes([12, 0]) + ok + ok + b"1\n" + ok + b"1999.0\n" + ok,
        "silence_then_close": bytes([1, 0]),
        "late_answer": bytes([0, 0]) + b"garbage without terminator",
    }
    for name, data in client.items():
        write("fuzz_scpi_client", name, data)


def usbtmc_seeds() -> None:
    # Bulk-IN transfers (DEV_DEP_MSG_IN header + payload + alignment) and GET_CAPABILITIES.
    def dev_dep_msg_in(tag: int, payload: bytes, attributes: int = 1) -> bytes:
        frame = struct.pack("<BBBBIB3x", 2, tag, ~tag & 0xFF, 0, len(payload), attributes) + payload
        return frame + b"\0" * (-len(frame) % 4)
    caps = bytes([1, 0, 0x00, 0x01, 0x04, 0x00]) + bytes(6) + bytes([0x00, 0x01, 0x06, 0x0E]) + bytes(8)
    seeds = {
        "idn_reply": dev_dep_msg_in(5, b"hilbench,DMM-6,DMM6-2026-000042,2.1.0\n"),
        "no_eom": dev_dep_msg_in(9, b"+1.0E+01\n", 0),
        "bad_inverse": bytes([2, 5, 0xFB, 0]) + bytes(8),
        "short": bytes([2, 5, 0xFA]),
        "size_past_end": struct.pack("<BBBBIB3x", 2, 1, 0xFE, 0, 0xFFFFFFFF, 1),
        "capabilities": caps,
    }
    for name, data in seeds.items():
        write("fuzz_usbtmc_header", name, data)


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def journal_seeds() -> None:
    prev = "0" * 64
    lines = []
    records = [
        ("session_started", {"argv": ["pytest", "suites"], "markets": ["EU"]}),
        ("exchange", {"protocol": "modbus", "request": "01030000000a", "outcome": "ok"}),
    ]
    for seq, (kind, data) in enumerate(records + [("journal_sealed", {"records": len(records)})]):
        record = {"data": data, "mono_ns": 1000 + seq, "prev": prev, "schema": 2, "seq": seq,
                  "type": kind, "wall": f"2026-12-01T10:00:0{seq}.000000Z"}
        digest = hashlib.sha256((prev + "\n" + canonical(record)).encode()).hexdigest()
        record["hash"] = digest
        lines.append(canonical(record) + "\n")
        prev = digest
    sealed = "".join(lines).encode()
    write("fuzz_journal_verify", "sealed_3_records.jsonl", sealed)
    write("fuzz_journal_verify", "unsealed_2_records.jsonl", "".join(lines[:2]).encode())
    write("fuzz_journal_verify", "torn_last_line.jsonl", sealed[:-40])
    write("fuzz_journal_verify", "edited_byte.jsonl", sealed.replace(b"modbus", b"modbuz"))
    write("fuzz_journal_verify", "deep_nesting.jsonl", b'{"data":' + b"[" * 200 + b"]" * 200 + b"}\n")
    write("fuzz_journal_verify", "empty.jsonl", b"")


def profile_seeds() -> None:
    em1 = (HERE.parent / "devices" / "profiles" / "em1-meter.toml").read_bytes()
    write("fuzz_meter_profile", "em1-meter.toml", em1)
    write("fuzz_meter_profile", "unknown_key.toml", em1.replace(b"[limits]", b"[limits]\nmax_reads = 3"))
    write("fuzz_meter_profile", "wrong_type.toml", em1.replace(b"unit = 1 ", b'unit = "one" '))
    write("fuzz_meter_profile", "not_toml.toml", b"schema = = 1\n[device\n")
    kinds = {"dmm": 0, "source": 1, "psu": 2}
    for profile in sorted((HERE.parent / "devices" / "profiles").glob("*.toml")):
        text = profile.read_bytes()
        kind = text.split(b'kind = "', 1)[1].split(b'"', 1)[0].decode() if b'kind = "' in text else ""
        if kind in kinds:
            write("fuzz_instrument_profiles", profile.name, bytes([kinds[kind]]) + text)
            write("fuzz_instrument_profiles", f"unknown_key-{profile.name}",
                  bytes([kinds[kind]]) + text.replace(b"[identity]", b"[identity]\nbogus = 1"))
    write("fuzz_instrument_profiles", "not_toml.toml", b"\x00schema = = 1\n[device\n")
    write("fuzz_instrument_profiles", "psu_negative_limit.toml", b'\x02schema = 1\n[device]\nkind = "psu"\n'
          b'name = "p"\n[identity]\nmanufacturer = "m"\nmodel = "x"\n[limits]\nmax_voltage_v = -1.0\n')
    write("fuzz_meter_profile", "minimal.toml", b'schema = 1\n[device]\nkind = "meter"\nname = "m"\nunit = 1\n'
          b'[identity]\nvendor = "v"\nproduct_code = "p"\nrevision = "1"\n')


if __name__ == "__main__":
    modbus_seeds()
    scpi_seeds()
    iec62056_seeds()
    usbtmc_seeds()
    journal_seeds()
    profile_seeds()
