#include "common/world.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "hilbench/unique_fd.hpp"

namespace hilbench::emu::world {

std::optional<std::string> WorldOptions::wire(std::string_view role) const {
  if (!enabled()) return std::nullopt;
  auto found = wires.find(std::string{role});
  if (found == wires.end()) return std::nullopt;
  return found->second;
}

std::optional<std::pair<std::string, std::string>> parse_wire(std::string_view text) {
  const auto equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0 || equals + 1 == text.size())
    return std::nullopt;
  const std::string_view device = text.substr(equals + 1);
  if (device.find('/') != std::string_view::npos || device.starts_with('.')) return std::nullopt;
  return std::pair{std::string{text.substr(0, equals)}, std::string{device}};
}

std::int64_t steady_now_ns() noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return std::int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
}

Publisher::Publisher(std::filesystem::path dir, std::string device)
    : dir_(std::move(dir)), device_(std::move(device)), path_(dir_ / (device_ + ".json")) {}

bool Publisher::publish(const nlohmann::json& quantities) {
  nlohmann::json document = quantities.is_object() ? quantities : nlohmann::json::object();
  document["device"] = device_;
  document["pid"] = ::getpid();
  document["seq"] = ++seq_;
  document["published_ns"] = steady_now_ns();
  const std::string text = document.dump() + "\n";
  const std::filesystem::path temporary =
      dir_ / ("." + device_ + ".json.tmp." + std::to_string(::getpid()));
  {
    hilbench::UniqueFd fd{
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (!fd) return false;
    std::size_t written = 0;
    while (written < text.size()) {
      const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::unlink(temporary.c_str());
        return false;
      }
      written += static_cast<std::size_t>(n);
    }
  }
  // rename(2) is atomic within one file system: readers see the old or the new document.
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    ::unlink(temporary.c_str());
    return false;
  }
  return true;
}

std::optional<nlohmann::json> read_published(const std::filesystem::path& dir,
                                             const std::string& device) {
  std::ifstream in(dir / (device + ".json"));
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json document = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) return std::nullopt;
  return document;
}

}  // namespace hilbench::emu::world
