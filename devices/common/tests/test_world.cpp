// The bench's world (common/world.hpp) and a powered device's supply input
// (common/power.hpp): atomic documents, wiring, power states driven by a supply document.
#define BOOST_TEST_MODULE test_world
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/power.hpp"
#include "common/world.hpp"

using namespace hilbench::emu;
namespace fs = std::filesystem;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hb-world-test.XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

void supply(const fs::path& dir, bool on, double volts) {
  world::Publisher publisher(dir, "psu");
  BOOST_REQUIRE(publisher.publish({{"output_on", on}, {"voltage_v", volts}}));
}

// Runs the io_context until `done` or a bound of handler runs (no wall-clock sleeps).
template <class Done>
void run_until(asio::io_context& io, Done done) {
  for (int i = 0; i < 100000 && !done(); ++i) {
    io.run_one_for(std::chrono::milliseconds{20});
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(publish_replaces_the_document_atomically) {
  TempDir dir;
  BOOST_TEST(!world::read_published(dir.path, "psu").has_value());
  world::Publisher publisher(dir.path, "psu");
  BOOST_REQUIRE(publisher.publish({{"output_on", true}, {"voltage_v", 24.0}}));
  BOOST_REQUIRE(publisher.publish({{"output_on", false}, {"voltage_v", 0.0}}));
  const auto document = world::read_published(dir.path, "psu");
  BOOST_REQUIRE(document.has_value());
  BOOST_TEST((*document)["output_on"] == false);
  BOOST_TEST((*document)["seq"] == 2);
  BOOST_TEST((*document)["device"] == "psu");
  // Only the document is left: no temporary file behind.
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path))
    names.push_back(entry.path().filename().string());
  BOOST_TEST(names == std::vector<std::string>{"psu.json"});
}

BOOST_AUTO_TEST_CASE(a_broken_document_reads_as_absent) {
  TempDir dir;
  { std::ofstream(dir.path / "psu.json") << "{\"output_on\": tr"; }
  BOOST_TEST(!world::read_published(dir.path, "psu").has_value());
}

BOOST_AUTO_TEST_CASE(wires_parse_and_need_a_world) {
  BOOST_TEST(world::parse_wire("power=psu2").value().second == "psu2");
  BOOST_TEST(!world::parse_wire("power").has_value());
  BOOST_TEST(!world::parse_wire("=psu2").has_value());
  BOOST_TEST(!world::parse_wire("power=../etc").has_value());
  world::WorldOptions options;
  options.wires["power"] = "psu2";
  BOOST_TEST(!options.wire("power").has_value());  // no --world: not wired
  options.dir = "/tmp";
  BOOST_TEST(options.wire("power").value() == "psu2");
}

BOOST_AUTO_TEST_CASE(power_follows_the_supply_with_boot_delay_and_sag_reset) {
  TempDir dir;
  supply(dir.path, false, 0.0);
  world::WorldOptions options{dir.path, {{"power", "psu"}}};
  PowerSpec spec{true, 24.0, 20.0, std::chrono::milliseconds{30}};
  asio::io_context io;
  int lost = 0, booted = 0;
  PowerInput power(io, options, spec, {[&] { ++lost; }, [&] { ++booted; }},
                   [](const std::string&) {});
  BOOST_TEST(!power.up());  // supply off at start
  supply(dir.path, true, 24.0);
  BOOST_TEST(!power.up());  // seen at once, but booting
  BOOST_TEST((power.state() == PowerInput::State::booting));
  run_until(io, [&] { return booted == 1; });
  BOOST_TEST(power.up());
  supply(dir.path, true, 12.0);  // a sag below min_v resets it
  BOOST_TEST(!power.up());
  BOOST_TEST(lost == 1);
  supply(dir.path, true, 24.0);
  BOOST_TEST(!power.up());
  supply(dir.path, false, 0.0);  // cut while booting: the boot is cancelled, nothing was up
  BOOST_TEST(!power.up());
  BOOST_TEST(lost == 1);
  supply(dir.path, true, 24.0);
  run_until(io, [&] { return booted == 2; });
  BOOST_TEST(power.up());
}

BOOST_AUTO_TEST_CASE(unwired_devices_are_always_on) {
  asio::io_context io;
  PowerInput power(io, world::WorldOptions{}, PowerSpec{}, {}, [](const std::string&) {});
  BOOST_TEST(!power.wired());
  BOOST_TEST(power.up());
}

BOOST_AUTO_TEST_CASE(power_table_is_strict) {
  auto read = [](const std::string& text) {
    const std::string file = "t.toml";  // TableReader keeps a reference to it
    const toml::table document = parse_profile_document(text, file);
    TableReader top(file, document, "");
    return read_power_spec(top);
  };
  const PowerSpec spec = read("[power]\nnominal_v = 24\nboot_delay_ms = 300\n");
  BOOST_TEST(spec.declared);
  BOOST_TEST(spec.min_v == 19.2, boost::test_tools::tolerance(1e-9));
  BOOST_TEST(spec.boot_delay.count() == 300);
  BOOST_TEST(!read("").declared);
  BOOST_CHECK_THROW(read("[power]\nnominal_v = 24\nmin_v = 30\n"), ProfileError);
  BOOST_CHECK_THROW(read("[power]\nnominal_v = 24\nboot = 1\n"), ProfileError);
}
