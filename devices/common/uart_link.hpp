#pragma once
// The link between hilbench-presenter (which owns the emulated UART of a port) and the device
// emulator attached to that port: one AF_UNIX SOCK_SEQPACKET connection per port, at the
// socket path the presenter's ready line names. Every packet is one message:
//
//   byte 0   type
//   'D'      data: the bytes that crossed the wire (either direction); at most
//            max_packet - 1 bytes per packet
//   'C'      emulator -> presenter, JSON: the device UART's settings
//            {"baud", "data_bits", "parity", "stop_bits"}; first packet after connect, and
//            again whenever the device reconfigures its UART
//   'L'      presenter -> emulator, JSON: the host side's line as the harness set it
//            {"baud", "data_bits", "parity", "stop_bits", "break", "dtr", "rts", "paced"};
//            sent on connect and after every change
//
// SEQPACKET keeps message boundaries (no framing code), is reliable and ordered, and shows a
// dead peer as end of file, so the presenter notices an emulator's death at once.
#include <cstddef>

namespace hilbench::emu::uart_link {

inline constexpr char data = 'D';
inline constexpr char device_config = 'C';
inline constexpr char host_line = 'L';
/// Largest packet either side sends or expects (a Modbus RTU ADU is 256 bytes).
inline constexpr std::size_t max_packet = 4096;

}  // namespace hilbench::emu::uart_link
