#include "hilbench/evidence/journal.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <fstream>
#include <memory>
#include <system_error>
#include <utility>
#include <vector>

#include "hilbench/clock.hpp"
#include "hilbench/errors.hpp"

namespace hilbench::evidence {
namespace {

constexpr std::string_view seal_type = "journal_sealed";
const std::string genesis_hash(64, '0');

// ---- small helpers ------------------------------------------------------------------------

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view operation,
                       const std::string& detail) {
  throw JournalError(ErrorContext{"journal:" + path.string(), std::string(operation), {}}, detail);
}

[[noreturn]] void fail_errno(const std::filesystem::path& path, std::string_view operation,
                             int error) {
  fail(path, operation, std::system_category().message(error));
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

/// SHA-256 over the concatenation of `parts`, lower-case hex.
template <std::size_t N>
std::string sha256_hex_of(const std::array<std::string_view, N>& parts) {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) throw std::bad_alloc();
  if (EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw JournalError({"openssl", "EVP_DigestInit_ex(sha256)", {}}, "digest init failed");
  for (const auto part : parts) {
    if (EVP_DigestUpdate(ctx.get(), part.data(), part.size()) != 1)
      throw JournalError({"openssl", "EVP_DigestUpdate", {}}, "digest update failed");
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1)
    throw JournalError({"openssl", "EVP_DigestFinal_ex", {}}, "digest final failed");
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(hex[digest[i] >> 4]);
    out.push_back(hex[digest[i] & 0x0f]);
  }
  return out;
}

/// H = SHA-256(prev + "\n" + canonical(record without hash)).
std::string record_hash(std::string_view prev, std::string_view canonical_without_hash) {
  return sha256_hex_of(std::array<std::string_view, 3>{prev, "\n", canonical_without_hash});
}

/// UTC wall-clock time, ISO 8601 with microseconds: 2026-11-25T10:00:00.123456Z.
std::string wall_time_now() {
  using namespace std::chrono;
  const auto now = time_point_cast<microseconds>(system_clock::now());
  const auto secs = time_point_cast<seconds>(now);
  auto micros = (now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  if (micros < 0) {  // before 1970: keep the fraction positive
    micros += 1'000'000;
    --t;
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

bool is_lower_hex64(const nlohmann::json& value) {
  if (!value.is_string()) return false;
  const auto& s = value.get_ref<const std::string&>();
  if (s.size() != 64) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

/// Thrown out of the parser callback to stop parsing a record nested too deeply.
struct TooDeep {};

/// Parses one line with its nesting bounded (serialising it again recurses once per level,
/// so an unbounded depth would overflow the stack). Discarded json on invalid JSON; throws
/// TooDeep.
nlohmann::json parse_bounded(const std::string& line) {
  return nlohmann::json::parse(
      line,
      [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
        if (depth > max_nesting_depth) throw TooDeep{};
        return true;
      },
      /*allow_exceptions=*/false);
}

enum class LineRead : std::uint8_t { line, torn, too_long, end };

/// std::getline with a bound: a line longer than max_record_bytes is not read into memory.
LineRead read_line(std::istream& in, std::string& line) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  while (true) {
    const int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) return line.empty() ? LineRead::end : LineRead::torn;
    if (c == '\n') return LineRead::line;
    if (line.size() == max_record_bytes) return LineRead::too_long;
    line.push_back(static_cast<char>(c));
  }
}

/// Checks the envelope of one parsed record; returns what is wrong, or "" if nothing.
std::string envelope_problem(const nlohmann::json& record) {
  if (!record.is_object()) return "record is not a JSON object";
  static constexpr std::array<std::string_view, 8> keys = {"data",   "hash", "mono_ns", "prev",
                                                           "schema", "seq",  "type",    "wall"};
  for (const auto key : keys) {
    if (!record.contains(key)) return fmt::format("record has no \"{}\"", key);
  }
  if (record.size() != keys.size()) return "record has keys outside the envelope";
  if (!record["schema"].is_number_integer()) return "\"schema\" is not an integer";
  if (!record["seq"].is_number_unsigned()) return "\"seq\" is not a non-negative integer";
  if (!record["type"].is_string() || record["type"].get_ref<const std::string&>().empty())
    return "\"type\" is not a non-empty string";
  if (!record["wall"].is_string()) return "\"wall\" is not a string";
  if (!record["mono_ns"].is_number_integer()) return "\"mono_ns\" is not an integer";
  if (!record["data"].is_object()) return "\"data\" is not an object";
  if (!is_lower_hex64(record["prev"])) return "\"prev\" is not 64 lower-case hex digits";
  if (!is_lower_hex64(record["hash"])) return "\"hash\" is not 64 lower-case hex digits";
  return {};
}

/// Result of walking a journal: the public report plus what reopening needs to know.
struct Walk {
  VerifyReport report;
  bool foreign_schema = false;  ///< some valid record has a schema other than ours
};

/// Walks the chain line by line (streaming) and stops at the first problem.
Walk walk_journal(const std::filesystem::path& path, bool require_seal) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_errno(path, "verify: open", errno);

  Walk walk;
  VerifyReport& report = walk.report;
  report.head_hash = genesis_hash;
  const auto problem_at = [&report](std::uint64_t line, std::string what) {
    report.ok = false;
    report.first_bad_line = line;
    report.problem = std::move(what);
  };

  std::string line;
  std::uint64_t line_no = 0;
  for (LineRead read = read_line(in, line); read != LineRead::end; read = read_line(in, line)) {
    ++line_no;
    if (report.sealed) {
      problem_at(line_no, "record after the journal_sealed record");
      return walk;
    }
    if (read == LineRead::too_long) {
      problem_at(line_no, fmt::format("line longer than {} bytes (the journal's record limit)",
                                      max_record_bytes));
      return walk;
    }
    if (read == LineRead::torn) {
      problem_at(line_no, fmt::format("torn last line ({} bytes without a newline): the "
                                      "writer was interrupted mid-record",
                                      line.size()));
      return walk;
    }
    nlohmann::json record;
    try {
      record = parse_bounded(line);
    } catch (const TooDeep&) {
      problem_at(line_no, fmt::format("record nested deeper than {} levels (the journal's "
                                      "limit)",
                                      max_nesting_depth));
      return walk;
    }
    if (record.is_discarded()) {
      problem_at(line_no, "line is not valid JSON");
      return walk;
    }
    if (const auto problem = envelope_problem(record); !problem.empty()) {
      problem_at(line_no, problem);
      return walk;
    }
    std::string canonical;
    try {
      canonical = canonical_json(record);
    } catch (const nlohmann::json::exception&) {
      problem_at(line_no, "line holds a string that is not valid UTF-8");
      return walk;
    }
    if (canonical != line) {
      problem_at(line_no, "line is not in canonical form (bytes were edited)");
      return walk;
    }
    const auto seq = record["seq"].get<std::uint64_t>();
    if (seq != report.records) {
      problem_at(line_no, fmt::format("seq {} where {} was expected (a record was deleted, "
                                      "inserted or reordered)",
                                      seq, report.records));
      return walk;
    }
    if (record["prev"].get_ref<const std::string&>() != report.head_hash) {
      problem_at(line_no, line_no == 1 ? std::string("prev of the first record is not 64 zeros")
                                       : fmt::format("prev does not match the hash of line {}",
                                                     line_no - 1));
      return walk;
    }
    const std::string stored_hash = record["hash"].get<std::string>();
    record.erase("hash");
    if (record_hash(report.head_hash, canonical_json(record)) != stored_hash) {
      problem_at(line_no, "hash mismatch: the record's content does not match its hash");
      return walk;
    }
    if (record["type"].get_ref<const std::string&>() == seal_type) {
      const auto& data = record["data"];
      if (!data.contains("records") || !data["records"].is_number_unsigned() ||
          data["records"].get<std::uint64_t>() != seq) {
        problem_at(line_no, fmt::format("journal_sealed record does not count the {} "
                                        "records before it",
                                        seq));
        return walk;
      }
      report.sealed = true;
    }
    if (record["schema"].get<std::int64_t>() != journal_schema_version) walk.foreign_schema = true;
    report.head_hash = stored_hash;
    ++report.records;
  }
  if (in.bad()) fail(path, "verify: read", "read error");

  if (require_seal && !report.sealed) {
    problem_at(line_no + 1, report.records == 0
                                ? std::string("journal is empty: no journal_sealed record")
                                : std::string("no journal_sealed record: the run was "
                                              "interrupted or records were cut off the end"));
    return walk;
  }
  report.ok = true;
  return walk;
}

/// A record without its stamps and chain fields.
nlohmann::json envelope(std::string_view type, const nlohmann::json& data) {
  return {{"schema", journal_schema_version}, {"type", std::string(type)}, {"data", data}};
}

/// Depth of nested arrays/objects (1 for a flat object), without recursion.
int nesting_depth(const nlohmann::json& value) {
  int deepest = 0;
  std::vector<std::pair<const nlohmann::json*, int>> pending{{&value, 1}};
  while (!pending.empty()) {
    const auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    deepest = std::max(deepest, depth);
    if (depth > max_nesting_depth) break;  // deep enough to refuse
    for (const auto& child : *node) pending.emplace_back(&child, depth + 1);
  }
  return deepest;
}

struct ChainedLine {
  std::string hash;
  std::string text;  ///< canonical JSON of the full record plus "\n"
};

/// Stamps `record` now, links it into the chain at `seq` after `prev` and serialises it.
/// Called under the journal's mutex, so wall and mono_ns never go backwards along seq.
ChainedLine chain(nlohmann::json record, std::uint64_t seq, const std::string& prev,
                  const std::filesystem::path& path, std::string_view operation) {
  record["wall"] = wall_time_now();
  record["mono_ns"] = monotonic_ns();
  record["seq"] = seq;
  record["prev"] = prev;
  try {
    ChainedLine line;
    line.hash = record_hash(prev, canonical_json(record));
    record["hash"] = line.hash;
    line.text = canonical_json(record);
    if (line.text.size() > max_record_bytes) {
      fail(path, operation,
           fmt::format("record of {} bytes exceeds the journal's limit of {}", line.text.size(),
                       max_record_bytes));
    }
    line.text.push_back('\n');
    return line;
  } catch (const nlohmann::json::exception& e) {
    fail(path, operation, fmt::format("data cannot be serialised: {}", e.what()));
  }
}

/// One write(2) of the whole line, then fdatasync. On any failure the descriptor is closed
/// (the file may now end in a torn line, so no later record may follow it) and a
/// JournalError is thrown.
void write_durably(UniqueFd& fd, const std::filesystem::path& path, const std::string& operation,
                   const std::string& line) {
  if (!fd) fail(path, operation, "journal is closed after an earlier write failure");
  ssize_t written;
  do {
    written = ::write(fd.get(), line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  if (written < 0) {
    const int error = errno;
    fd.reset();
    fail_errno(path, operation, error);
  }
  if (static_cast<std::size_t>(written) != line.size()) {
    fd.reset();
    fail(path, operation, fmt::format("short write ({} of {} bytes)", written, line.size()));
  }
  if (::fdatasync(fd.get()) != 0) {
    const int error = errno;
    fd.reset();
    fail(path, operation + ": fdatasync", std::system_category().message(error));
  }
}

void fsync_directory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd) ::fsync(fd.get());  // best effort: makes a newly created journal's entry durable
}

}  // namespace

// ---- free functions -----------------------------------------------------------------------

std::string canonical_json(const nlohmann::json& value) {
  // Compact (indent -1), ASCII only, strict UTF-8 (throws on invalid input); keys come out
  // sorted because nlohmann::json stores objects in a std::map.
  return value.dump(-1, ' ', /*ensure_ascii=*/true, nlohmann::json::error_handler_t::strict);
}

std::string sha256_hex(std::string_view bytes) {
  return sha256_hex_of(std::array<std::string_view, 1>{bytes});
}

VerifyReport verify_journal(const std::filesystem::path& path, bool require_seal) {
  return walk_journal(path, require_seal).report;
}

// ---- Journal ------------------------------------------------------------------------------

Journal::Journal(const std::filesystem::path& path) : path_(path), head_hash_(genesis_hash) {
  std::error_code ec;
  const auto parent = path_.parent_path();
  if (!parent.empty()) {
    std::filesystem::create_directories(parent, ec);
    if (ec) fail(path_, "create parent directories", ec.message());
  }
  const bool existed = std::filesystem::exists(path_, ec);
  fd_.reset(::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
  if (!fd_) fail_errno(path_, "open", errno);
  // One writer per journal: a second writer would fork the chain.
  if (::flock(fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    fail(path_, "lock",
         error == EWOULDBLOCK ? std::string("journal is open for appending "
                                            "elsewhere")
                              : std::system_category().message(error));
  }
  if (!existed) {
    fsync_directory(parent);
    return;
  }
  const Walk walk = walk_journal(path_, /*require_seal=*/false);
  if (!walk.report.ok) {
    fail(path_, "reopen",
         fmt::format("line {}: {} (a journal is never repaired: start a new one)",
                     *walk.report.first_bad_line, walk.report.problem));
  }
  if (walk.report.sealed) {
    fail(path_, "reopen",
         fmt::format("journal is sealed ({} records): a sealed journal takes no more records",
                     walk.report.records));
  }
  if (walk.foreign_schema) {
    fail(path_, "reopen",
         fmt::format("journal holds records of a schema other than {}", journal_schema_version));
  }
  next_seq_ = walk.report.records;
  head_hash_ = walk.report.head_hash;
}

Journal::~Journal() = default;

Journal::Appended Journal::append(std::string_view type, const nlohmann::json& data) {
  const std::string operation = fmt::format("append({})", type);
  if (type.empty()) fail(path_, operation, "record type is empty");
  if (type == seal_type) fail(path_, operation, "\"journal_sealed\" is written by seal() only");
  if (!data.is_object()) fail(path_, operation, "data is not a JSON object");
  if (nesting_depth(data) > max_nesting_depth - 1)  // the envelope adds one level
    fail(path_, operation, fmt::format("data nested deeper than {} levels", max_nesting_depth - 1));
  nlohmann::json record = envelope(type, data);

  std::lock_guard lock(mutex_);
  if (seal_) fail(path_, operation, "journal is sealed");
  const ChainedLine line = chain(std::move(record), next_seq_, head_hash_, path_, operation);
  write_durably(fd_, path_, fmt::format("{} seq {}", operation, next_seq_), line.text);
  Appended appended{next_seq_++, line.hash};
  head_hash_ = line.hash;
  return appended;
}

Journal::Appended Journal::seal() {
  std::lock_guard lock(mutex_);
  if (seal_) return *seal_;
  const nlohmann::json data = {{"records", next_seq_}};
  const ChainedLine line = chain(envelope(seal_type, data), next_seq_, head_hash_, path_, "seal");
  write_durably(fd_, path_, fmt::format("seal seq {}", next_seq_), line.text);
  seal_ = Appended{next_seq_++, line.hash};
  head_hash_ = line.hash;
  fd_.reset();  // releases the writer lock too
  return *seal_;
}

std::uint64_t Journal::next_seq() const {
  std::lock_guard lock(mutex_);
  return next_seq_;
}

std::string Journal::head_hash() const {
  std::lock_guard lock(mutex_);
  return head_hash_;
}

}  // namespace hilbench::evidence
