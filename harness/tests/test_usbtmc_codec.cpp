// The USBTMC codec (sans-io): Bulk-OUT headers with bTag, its inverse, TransferSize, EOM and
// 4-byte alignment; REQUEST_DEV_DEP_MSG_IN; the Bulk-IN header decoder rejecting what a
// device must not send; GET_CAPABILITIES. Byte layouts from USBTMC 1.0 tables 1-4, 8-9, 37
// and USB488 1.0 table 8.
#define BOOST_TEST_MODULE usbtmc_codec
#include <boost/test/unit_test.hpp>
#include <vector>

#include "hilbench/protocol/usbtmc.hpp"

using namespace hilbench::usbtmc;
using Bytes = std::vector<std::uint8_t>;

namespace {
Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }
}  // namespace

BOOST_AUTO_TEST_CASE(dev_dep_msg_out_header_tag_inverse_size_eom_and_padding) {
  const Bytes frame = encode_dev_dep_msg_out(5, text("*IDN?\n"), true);
  const Bytes expected{1, 5, 0xFA, 0, 6, 0, 0, 0, 1, 0, 0, 0, '*', 'I', 'D', 'N', '?', '\n', 0, 0};
  BOOST_TEST(frame == expected, boost::test_tools::per_element());
  BOOST_TEST(frame.size() % 4 == 0U);
  // Aligned payload: no padding; EOM off for a message that continues.
  const Bytes aligned = encode_dev_dep_msg_out(255, text("ABCD"), false);
  BOOST_TEST(aligned.size() == 16U);
  BOOST_TEST(aligned[2] == 0x00);
  BOOST_TEST(aligned[8] == 0x00);
}

BOOST_AUTO_TEST_CASE(request_dev_dep_msg_in_with_and_without_term_char) {
  const Bytes plain = encode_request_dev_dep_msg_in(7, 0x10000, std::nullopt);
  const Bytes expected{2, 7, 0xF8, 0, 0, 0, 1, 0, 0, 0, 0, 0};
  BOOST_TEST(plain == expected, boost::test_tools::per_element());
  const Bytes term = encode_request_dev_dep_msg_in(7, 64, std::uint8_t{'\n'});
  BOOST_TEST(term[8] == 0x02);
  BOOST_TEST(term[9] == '\n');
}

BOOST_AUTO_TEST_CASE(tags_run_1_to_255_and_skip_0) {
  BOOST_TEST(next_tag(0) == 1);
  BOOST_TEST(next_tag(1) == 2);
  BOOST_TEST(next_tag(254) == 255);
  BOOST_TEST(next_tag(255) == 1);
}

BOOST_AUTO_TEST_CASE(bulk_in_header_decodes_and_rejects_what_a_device_must_not_send) {
  const Bytes good{2, 9, 0xF6, 0, 3, 0, 0, 0, 1, 0, 0, 0, 'a', 'b', '\n', 0};
  const InHeader h = decode_in_header(good);
  BOOST_TEST(h.tag == 9);
  BOOST_TEST(h.transfer_size == 3U);
  BOOST_TEST(h.eom);
  BOOST_TEST(!h.term_char);

  BOOST_CHECK_THROW(decode_in_header(Bytes(good.begin(), good.begin() + 11)), DecodeError);
  Bytes wrong_id = good;
  wrong_id[0] = 1;
  BOOST_CHECK_THROW(decode_in_header(wrong_id), DecodeError);
  Bytes wrong_inverse = good;
  wrong_inverse[2] = 0xF5;
  BOOST_CHECK_THROW(decode_in_header(wrong_inverse), DecodeError);
  Bytes reserved = good;
  reserved[10] = 1;
  BOOST_CHECK_THROW(decode_in_header(reserved), DecodeError);
  Bytes attributes = good;
  attributes[8] = 0x05;
  BOOST_CHECK_THROW(decode_in_header(attributes), DecodeError);
}

BOOST_AUTO_TEST_CASE(capabilities_of_a_usb488_scpi_instrument) {
  Bytes reply(24, 0);
  reply[0] = status::success;
  reply[2] = 0x00;
  reply[3] = 0x01;
  reply[4] = 0x04;
  reply[5] = 0x01;
  reply[12] = 0x00;
  reply[13] = 0x01;
  reply[14] = 0x07;
  reply[15] = 0x0F;
  const Capabilities c = decode_capabilities(reply);
  BOOST_TEST(c.bcd_usbtmc == 0x0100);
  BOOST_TEST(c.indicator_pulse);
  BOOST_TEST(!c.talk_only);
  BOOST_TEST(!c.listen_only);
  BOOST_TEST(c.term_char);
  BOOST_TEST(c.bcd_usb488 == 0x0100);
  BOOST_TEST(c.is_488_2);
  BOOST_TEST(c.ren_control);
  BOOST_TEST(c.trigger);
  BOOST_TEST(c.scpi);
  BOOST_TEST(c.sr1);
  BOOST_TEST(c.rl1);
  BOOST_TEST(c.dt1);
  BOOST_CHECK_THROW(decode_capabilities(Bytes(23, 0)), DecodeError);
}
