// The evidence journal verifier: verify_journal over a file an auditor did not write. The
// input is written to a private temp file and verified, sealed-required and not; the
// verifier must report, never crash, whatever the lines hold (deep nesting, huge numbers,
// invalid UTF-8, torn lines).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "hilbench/errors.hpp"
#include "hilbench/evidence/journal.hpp"

namespace {
std::filesystem::path journal_path;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/hilbench-fuzz-journal-XXXXXX";
  const char* dir = mkdtemp(pattern.data());
  if (!dir) std::abort();
  journal_path = std::filesystem::path(dir) / "journal.jsonl";
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(journal_path.parent_path(), ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    // A new file each time: truncating one that holds data makes ext4 (auto_da_alloc) flush
    // it to disk, which slowed this target a hundredfold.
    std::error_code ignored;
    std::filesystem::remove(journal_path, ignored);
    std::ofstream out(journal_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  for (const bool require_seal : {true, false}) {
    try {
      const auto report = hilbench::evidence::verify_journal(journal_path, require_seal);
      if (report.ok && report.first_bad_line) __builtin_trap();
      if (!report.ok && report.problem.empty()) __builtin_trap();
    } catch (const hilbench::HarnessError&) {
      // e.g. JournalError for an unreadable file: typed, not a crash
    }
  }
  return 0;
}
