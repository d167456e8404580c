#pragma once
// Recorder<T>: a thread-safe buffer that collects items handed to a sink (chunks, exchanges)
// until someone drains them, e.g. the pytest plugin moving exchanges into the journal after
// each test. Keeps callbacks out of the I/O path: the sink only appends under a mutex.
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace hilbench {

template <class T>
class Recorder {
 public:
  /// A sink that appends to this recorder. It shares ownership of the buffer, so it stays
  /// valid even if the Recorder object is destroyed first.
  std::function<void(const T&)> sink() const {
    return [state = state_](const T& item) {
      std::lock_guard lock(state->mutex);
      state->items.push_back(item);
    };
  }
  /// Takes everything recorded so far, oldest first.
  std::vector<T> drain() {
    std::lock_guard lock(state_->mutex);
    return std::exchange(state_->items, {});
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<T> items;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace hilbench
