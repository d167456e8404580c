#pragma once
// Evidence journal: append-only JSON Lines, each record chained to the previous by SHA-256.
//
// Record (one line, canonical JSON: keys sorted, no spaces, non-ASCII escaped):
//   {"data":{...},"hash":H,"mono_ns":N,"prev":P,"schema":2,"seq":S,"type":T,"wall":ISO8601}
//   H = hex SHA-256 of (P + "\n" + canonical JSON of the record without "hash").
//   The first record has P = 64 zeros. seq counts from 0 without gaps.
// Crash safety: each record is written with one write(2) of the whole line and fdatasync'd
// before append() returns, so a kill at any moment loses at most the record being written
// (the verifier reports that torn last line). close() appends a "journal_sealed" record; a
// journal without it was interrupted, and a verifier in strict mode says so — that is also
// how cutting whole records off the end is detected.
// Thread-safety: append() may be called from any thread (internally serialised).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "hilbench/unique_fd.hpp"

namespace hilbench::evidence {

inline constexpr int journal_schema_version = 2;

/// Bounds on what a journal may hold, so a hostile journal is refused, never a crash: the
/// writer refuses records past them and the verifier reports a line past them as broken.
inline constexpr std::size_t max_record_bytes = 64u << 20;  ///< one line, newline excluded
inline constexpr int max_nesting_depth = 64;                ///< arrays/objects inside one record

class Journal {
 public:
  /// Creates `path` (parent directories too) or, if it exists, verifies it and continues
  /// its chain (a torn last line is a JournalError: a journal is never silently repaired).
  /// A sealed journal cannot be reopened for appending.
  explicit Journal(const std::filesystem::path& path);
  ~Journal();  ///< does not seal: an unsealed journal says the run did not finish cleanly
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  struct Appended {
    std::uint64_t seq;
    std::string hash;
  };
  /// Appends one record; returns its seq and hash once it is durable.
  Appended append(std::string_view type, const nlohmann::json& data);
  /// Appends the seal record ({"records": n}) and closes the file. Idempotent.
  Appended seal();

  std::uint64_t next_seq() const;
  std::string head_hash() const;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
  mutable std::mutex mutex_;
  UniqueFd fd_;
  std::uint64_t next_seq_ = 0;
  std::string head_hash_;
  std::optional<Appended> seal_;
};

struct VerifyReport {
  bool ok = false;  ///< chain intact (and sealed, when sealing was required)
  bool sealed = false;
  std::uint64_t records = 0;                    ///< valid records before the first problem
  std::optional<std::uint64_t> first_bad_line;  ///< 1-based line number of the first problem
  std::string problem;                          ///< what is wrong there, empty when ok
  std::string head_hash;                        ///< hash of the last valid record
};

/// Walks the chain and reports the first broken link: a line that is not canonical JSON,
/// a seq gap, a wrong prev, a hash mismatch, a torn last line, missing seal (if required).
VerifyReport verify_journal(const std::filesystem::path& path, bool require_seal = true);

/// The canonical serialisation used for hashing (exposed so other tools can check it).
std::string canonical_json(const nlohmann::json& value);
/// Hex SHA-256 of bytes (OpenSSL EVP).
std::string sha256_hex(std::string_view bytes);

}  // namespace hilbench::evidence
