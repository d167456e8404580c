#pragma once
// A Transport over a script of bytes, for the fuzz targets of protocol clients: do_read serves
// the script in chunks (sizes cycled from `chunk_sizes`), writes are taken whole and dropped,
// and an exhausted script answers nothing at once (read_some returns 0: a timeout without
// waiting), so one input runs in microseconds whatever the client's deadlines.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/transport/transport.hpp"

namespace hilbench::fuzz {

class ScriptedTransport : public Transport {
 public:
  ScriptedTransport(std::span<const std::uint8_t> script, std::vector<std::size_t> chunk_sizes,
                    bool close_at_end)
      : script_(script), chunk_sizes_(std::move(chunk_sizes)), close_at_end_(close_at_end) {}

  std::string name() const override { return "fuzz:scripted"; }

 protected:
  std::size_t do_read(std::span<std::uint8_t> buf, Deadline) override {
    if (position_ == script_.size()) {
      if (close_at_end_) throw ConnectionClosed({name(), "read", std::nullopt}, "script ended");
      return 0;
    }
    std::size_t chunk =
        chunk_sizes_.empty() ? buf.size() : chunk_sizes_[next_chunk_++ % chunk_sizes_.size()];
    chunk = std::min({chunk == 0 ? std::size_t{1} : chunk, buf.size(), script_.size() - position_});
    std::copy_n(script_.begin() + static_cast<std::ptrdiff_t>(position_), chunk, buf.begin());
    position_ += chunk;
    return chunk;
  }
  std::size_t do_write(std::span<const std::uint8_t> bytes, Deadline) override {
    return bytes.size();
  }
  void do_discard_input() override {}

 private:
  std::span<const std::uint8_t> script_;
  std::vector<std::size_t> chunk_sizes_;
  bool close_at_end_;
  std::size_t position_ = 0;
  std::size_t next_chunk_ = 0;
};

}  // namespace hilbench::fuzz
