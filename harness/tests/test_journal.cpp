// Evidence journal: the chain as written, reopening, every tamper case the verifier must
// catch (at the right line), a writer killed mid-append, and concurrent appends.
#define BOOST_TEST_MODULE journal
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "hilbench/errors.hpp"
#include "hilbench/evidence/journal.hpp"
#include "hilbench/unique_fd.hpp"

namespace fs = std::filesystem;
using hilbench::JournalError;
using hilbench::UniqueFd;
using hilbench::evidence::canonical_json;
using hilbench::evidence::Journal;
using hilbench::evidence::sha256_hex;
using hilbench::evidence::verify_journal;
using nlohmann::json;

namespace {

const std::string zeros(64, '0');

/// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hilbench-journal-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

/// Lines without their terminators; a last line without "\n" is kept too.
std::vector<std::string> split_lines(const std::string& content) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < content.size()) {
    const auto end = content.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(content.substr(start));
      break;
    }
    lines.push_back(content.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

/// A record chained after `prev` exactly as the journal would write it (for forgeries).
std::string forge_line(json record, const std::string& prev) {
  record.erase("hash");
  record["prev"] = prev;
  record["hash"] = sha256_hex(prev + "\n" + canonical_json(record));
  return canonical_json(record);
}

/// A sealed journal of `n` data records plus the seal, returned as its lines.
std::vector<std::string> make_sealed(const fs::path& path, int n) {
  {
    Journal journal(path);
    for (int i = 0; i < n; ++i)
      journal.append(
          "observation",
          {{"name", "v" + std::to_string(i)}, {"value", i * 1.5}, {"detail", "caf\xc3\xa9 <b>"}});
    journal.seal();
  }
  return split_lines(read_file(path));
}

void check_problem(const fs::path& path, std::uint64_t line, const std::string& fragment,
                   bool require_seal = true) {
  const auto report = verify_journal(path, require_seal);
  BOOST_TEST_CONTEXT("expected a problem at line "
                     << line << " mentioning '" << fragment << "'; got line "
                     << report.first_bad_line.value_or(0) << ": " << report.problem) {
    BOOST_TEST(!report.ok);
    BOOST_TEST(report.first_bad_line.has_value());
    BOOST_TEST(report.first_bad_line.value_or(0) == line);
    BOOST_TEST(report.problem.find(fragment) != std::string::npos);
    BOOST_TEST(report.records == line - 1);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(primitives)

BOOST_AUTO_TEST_CASE(canonical_json_sorts_keys_compacts_and_escapes) {
  const json value = {{"b", 1}, {"a", "caf\xc3\xa9"}, {"c", {{"z", nullptr}, {"y", {1, 2.5}}}}};
  BOOST_TEST(canonical_json(value) == R"({"a":"caf\u00e9","b":1,"c":{"y":[1,2.5],"z":null}})");
}

BOOST_AUTO_TEST_CASE(sha256_matches_known_vectors) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(writing)

BOOST_AUTO_TEST_CASE(chain_is_written_and_verifies) {
  TempDir dir;
  const auto path = dir / "nested/evidence/journal.jsonl";  // parents are created
  std::string seal_hash;
  {
    Journal journal(path);
    BOOST_TEST(journal.next_seq() == 0u);
    BOOST_TEST(journal.head_hash() == zeros);
    const auto first = journal.append("run_started", {{"run_id", "abc"}});
    BOOST_TEST(first.seq == 0u);
    const auto second = journal.append("test_started", {{"nodeid", "t::x"}, {"n", 1}});
    BOOST_TEST(second.seq == 1u);
    BOOST_TEST(journal.head_hash() == second.hash);
    const auto seal = journal.seal();
    BOOST_TEST(seal.seq == 2u);
    BOOST_TEST(journal.seal().hash == seal.hash);  // idempotent
    seal_hash = seal.hash;
    BOOST_CHECK_THROW(journal.append("late", json::object()), JournalError);
  }
  const auto lines = split_lines(read_file(path));
  BOOST_TEST_REQUIRE(lines.size() == 3u);
  const std::regex wall(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  std::string prev = zeros;
  std::int64_t last_mono = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto record = json::parse(lines[i]);
    BOOST_TEST(canonical_json(record) == lines[i]);
    BOOST_TEST(record["schema"] == hilbench::evidence::journal_schema_version);
    BOOST_TEST(record["seq"] == i);
    BOOST_TEST(record["prev"] == prev);
    BOOST_TEST(std::regex_match(record["wall"].get<std::string>(), wall));
    BOOST_TEST(record["mono_ns"].get<std::int64_t>() >= last_mono);
    last_mono = record["mono_ns"].get<std::int64_t>();
    const std::string hash = record["hash"];
    record.erase("hash");
    BOOST_TEST(hash == sha256_hex(prev + "\n" + canonical_json(record)));
    prev = hash;
  }
  BOOST_TEST(json::parse(lines[2])["type"] == "journal_sealed");
  BOOST_TEST(json::parse(lines[2])["data"] == json({{"records", 2}}));

  const auto report = verify_journal(path);
  BOOST_TEST(report.ok);
  BOOST_TEST(report.sealed);
  BOOST_TEST(report.records == 3u);
  BOOST_TEST(!report.first_bad_line.has_value());
  BOOST_TEST(report.problem.empty());
  BOOST_TEST(report.head_hash == seal_hash);
}

BOOST_AUTO_TEST_CASE(reopen_continues_the_chain) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  std::string head;
  {
    Journal journal(path);
    journal.append("a", {{"i", 0}});
    head = journal.append("b", {{"i", 1}}).hash;
  }
  const auto unsealed = verify_journal(path, /*require_seal=*/false);
  BOOST_TEST(unsealed.ok);
  BOOST_TEST(!unsealed.sealed);
  {
    Journal journal(path);
    BOOST_TEST(journal.next_seq() == 2u);
    BOOST_TEST(journal.head_hash() == head);
    BOOST_TEST(journal.append("c", {{"i", 2}}).seq == 2u);
    journal.seal();
  }
  const auto report = verify_journal(path);
  BOOST_TEST(report.ok);
  BOOST_TEST(report.records == 4u);
  BOOST_CHECK_THROW(Journal{path}, JournalError);  // sealed: no more records
}

BOOST_AUTO_TEST_CASE(empty_existing_file_starts_a_chain) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  write_file(path, "");
  Journal journal(path);
  BOOST_TEST(journal.append("a", json::object()).seq == 0u);
}

BOOST_AUTO_TEST_CASE(one_writer_at_a_time) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  Journal journal(path);
  BOOST_CHECK_THROW(Journal{path}, JournalError);
}

BOOST_AUTO_TEST_CASE(bad_appends_are_refused_and_leave_the_journal_usable) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  Journal journal(path);
  BOOST_CHECK_THROW(journal.append("journal_sealed", {{"records", 0}}), JournalError);
  BOOST_CHECK_THROW(journal.append("", json::object()), JournalError);
  BOOST_CHECK_THROW(journal.append("x", json::array({1, 2})), JournalError);
  BOOST_CHECK_THROW(journal.append("x", {{"bad", std::string("\xff\xfe")}}), JournalError);
  BOOST_TEST(journal.next_seq() == 0u);
  BOOST_TEST(journal.append("x", {{"ok", true}}).seq == 0u);
  journal.seal();
  BOOST_TEST(verify_journal(path).ok);
}

BOOST_AUTO_TEST_CASE(the_writer_refuses_what_the_verifier_would_refuse) {
  TempDir dir;
  Journal journal(dir / "journal.jsonl");
  json deep = json::object();
  json* level = &deep;
  for (int i = 0; i < hilbench::evidence::max_nesting_depth; ++i)
    level = &((*level)["x"] = json::object());
  BOOST_CHECK_THROW(journal.append("deep", deep), JournalError);
  const json big = {{"x", std::string(hilbench::evidence::max_record_bytes, 'y')}};
  BOOST_CHECK_THROW(journal.append("big", big), JournalError);
  journal.append("fine", {{"x", 1}});  // still usable
  journal.seal();
  BOOST_TEST(verify_journal(dir / "journal.jsonl").ok);
}

BOOST_AUTO_TEST_CASE(reopening_a_journal_of_another_schema_is_refused) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  // Schema 1 is still readable by the reports, but a schema-2 writer must not continue it.
  const json record = {{"schema", 1},  {"seq", 0},
                       {"type", "x"},  {"wall", "2026-01-01T00:00:00.000000Z"},
                       {"mono_ns", 1}, {"data", json::object()}};
  write_file(path, forge_line(record, zeros) + "\n");
  BOOST_TEST(verify_journal(path, false).ok);  // the chain itself is intact
  BOOST_CHECK_THROW(Journal{path}, JournalError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tampering)

BOOST_AUTO_TEST_CASE(every_single_byte_edit_is_caught_at_its_line) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  make_sealed(path, 2);  // two data records and the seal: every kind of line
  const std::string original = read_file(path);
  const auto tampered = dir / "tampered.jsonl";
  std::uint64_t line = 1;
  for (std::size_t offset = 0; offset < original.size(); ++offset) {
    for (const unsigned char flip : {0x01, 0x80}) {
      std::string copy = original;
      copy[offset] = static_cast<char>(static_cast<unsigned char>(copy[offset]) ^ flip);
      write_file(tampered, copy);
      const auto report = verify_journal(tampered);
      BOOST_TEST_CONTEXT("offset " << offset << " xor " << int(flip)) {
        BOOST_TEST(!report.ok);
        BOOST_TEST(report.first_bad_line.value_or(0) == line);
      }
    }
    if (original[offset] == '\n') ++line;
  }
}

BOOST_AUTO_TEST_CASE(deleted_line) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  lines.erase(lines.begin() + 2);
  write_file(path, join_lines(lines));
  check_problem(path, 3, "seq 3 where 2 was expected");
}

BOOST_AUTO_TEST_CASE(reordered_lines) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  std::swap(lines[1], lines[2]);
  write_file(path, join_lines(lines));
  check_problem(path, 2, "seq 2 where 1 was expected");
}

BOOST_AUTO_TEST_CASE(inserted_duplicate_line) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  lines.insert(lines.begin() + 2, lines[1]);
  write_file(path, join_lines(lines));
  check_problem(path, 3, "seq 1 where 2 was expected");
}

BOOST_AUTO_TEST_CASE(inserted_forged_line_breaks_the_next_link) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  // A perfectly chained record 2, inserted before the real record 2, whose prev then no
  // longer matches: renumbering the rest would need every later hash recomputed.
  auto forged = json::parse(lines[2]);
  forged["data"] = {{"name", "forged"}};
  lines.insert(lines.begin() + 2, forge_line(forged, json::parse(lines[1])["hash"]));
  write_file(path, join_lines(lines));
  check_problem(path, 4, "seq 2 where 3 was expected");
}

BOOST_AUTO_TEST_CASE(edited_content_with_canonical_form_is_a_hash_mismatch) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  auto record = json::parse(lines[3]);
  record["data"]["value"] = 99;
  lines[3] = canonical_json(record);
  write_file(path, join_lines(lines));
  check_problem(path, 4, "hash mismatch");
}

BOOST_AUTO_TEST_CASE(rehashed_record_with_wrong_prev) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  lines[3] = forge_line(json::parse(lines[3]), std::string(64, 'a'));
  write_file(path, join_lines(lines));
  check_problem(path, 4, "prev does not match the hash of line 3");
}

BOOST_AUTO_TEST_CASE(rewritten_record_breaks_the_following_link) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  auto record = json::parse(lines[2]);
  record["data"]["value"] = 99;
  lines[2] = forge_line(record, record["prev"]);  // self-consistent, but line 4 links elsewhere
  write_file(path, join_lines(lines));
  check_problem(path, 4, "prev does not match the hash of line 3");
}

BOOST_AUTO_TEST_CASE(non_canonical_spacing) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 3);
  lines[1].insert(lines[1].find(':') + 1, " ");  // same content and hash, one space more
  write_file(path, join_lines(lines));
  check_problem(path, 2, "canonical");
}

BOOST_AUTO_TEST_CASE(torn_last_line_and_reopen_names_file_and_line) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  {
    Journal journal(path);
    for (int i = 0; i < 4; ++i) journal.append("x", {{"i", i}});
  }
  std::string content = read_file(path);
  content.resize(content.size() - 10);
  write_file(path, content);
  check_problem(path, 4, "torn last line", /*require_seal=*/false);
  try {
    Journal journal(path);
    BOOST_FAIL("reopening a torn journal must throw");
  } catch (const JournalError& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find(path.string()) != std::string::npos, what);
    BOOST_TEST(what.find("line 4") != std::string::npos, what);
    BOOST_TEST(what.find("torn") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(whole_records_cut_off_the_end_lose_the_seal) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 5);
  lines.resize(4);
  write_file(path, join_lines(lines));
  check_problem(path, 5, "no journal_sealed record");
  BOOST_TEST(verify_journal(path, /*require_seal=*/false).ok);
}

BOOST_AUTO_TEST_CASE(empty_file_is_not_a_sealed_journal) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  write_file(path, "");
  check_problem(path, 1, "empty");
  const auto lenient = verify_journal(path, false);
  BOOST_TEST(lenient.ok);
  BOOST_TEST(lenient.head_hash == zeros);
}

BOOST_AUTO_TEST_CASE(record_after_the_seal) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 2);
  auto extra = json::parse(lines[1]);
  extra["seq"] = 3;
  lines.push_back(forge_line(extra, json::parse(lines.back())["hash"]));
  write_file(path, join_lines(lines));
  check_problem(path, 4, "after the journal_sealed record");
}

BOOST_AUTO_TEST_CASE(blank_line) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 3);
  lines.insert(lines.begin() + 1, "");
  write_file(path, join_lines(lines));
  check_problem(path, 2, "not valid JSON");
}

// Found by a hostile journal: a line nested 200,000 deep crashed `hilbench verify` and
// `hilbench report` (the stack overflowed re-serialising it). Now the line is refused.
BOOST_AUTO_TEST_CASE(a_record_nested_too_deeply_is_refused_not_a_crash) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  const std::size_t depth = 200'000;
  const std::string nested = std::string(depth, '[') + std::string(depth, ']');
  write_file(path, "{\"data\":{\"x\":" + nested + "},\"hash\":\"" + std::string(64, '1') +
                       "\",\"mono_ns\":1,\"prev\":\"" + zeros +
                       "\",\"schema\":2,\"seq\":0,\"type\":\"x\",\"wall\":\"w\"}\n");
  check_problem(path, 1, "nested deeper than 64 levels");
}

BOOST_AUTO_TEST_CASE(a_line_past_the_record_limit_is_refused_without_reading_it_whole) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  auto lines = make_sealed(path, 2);
  lines.insert(lines.begin() + 1, std::string(hilbench::evidence::max_record_bytes + 1, 'x'));
  write_file(path, join_lines(lines));
  check_problem(path, 2, "longer than 67108864 bytes");
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error) {
  TempDir dir;
  BOOST_CHECK_THROW(verify_journal(dir / "absent.jsonl"), JournalError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(robustness)

// A writer killed with SIGKILL while appending in a loop leaves a journal whose complete
// lines all verify and at most one torn last line. Large records make a kill in the middle
// of write(2) possible; the outcome is checked for both cases.
BOOST_AUTO_TEST_CASE(sigkill_while_appending_loses_at_most_the_last_line) {
  TempDir dir;
  const std::vector<std::size_t> payload_sizes = {16, 1 << 20};
  int round = 0;
  for (const auto payload_size : payload_sizes) {
    for (int rep = 0; rep < 2; ++rep, ++round) {
      const auto path = dir / ("killed-" + std::to_string(round) + ".jsonl");
      int fds[2];
      BOOST_TEST_REQUIRE(::pipe(fds) == 0);
      UniqueFd read_end(fds[0]);
      UniqueFd write_end(fds[1]);
      const int signal_after = 3 + rep;
      const pid_t child = ::fork();
      BOOST_TEST_REQUIRE(child >= 0);
      if (child == 0) {
        read_end.reset();
        try {
          Journal journal(path);
          const std::string payload(payload_size, 'x');
          for (int i = 0;; ++i) {
            journal.append("exchange", {{"i", i}, {"payload", payload}});
            if (i + 1 == signal_after) {
              const char ready = 'r';
              if (::write(write_end.get(), &ready, 1) != 1) ::_exit(3);
            }
          }
        } catch (...) {
          ::_exit(2);
        }
      }
      write_end.reset();
      char ready = 0;
      const auto got = ::read(read_end.get(), &ready, 1);
      BOOST_TEST_REQUIRE(got == 1);  // the child appended `signal_after` records and goes on
      // On odd rounds, kill as soon as the next record starts reaching the file (the size
      // grows page by page during a large write(2)); bounded spin, no sleeps.
      if (round % 2 == 1) {
        std::error_code ec;
        const auto durable = fs::file_size(path, ec);
        for (int spin = 0; spin < 50'000'000 && fs::file_size(path, ec) == durable; ++spin) {
        }
      }
      BOOST_TEST_REQUIRE(::kill(child, SIGKILL) == 0);
      int status = 0;
      BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
      BOOST_TEST_REQUIRE(WIFSIGNALED(status));
      BOOST_TEST(WTERMSIG(status) == SIGKILL);

      const std::string content = read_file(path);
      const auto lines = split_lines(content);
      const bool torn = !content.empty() && content.back() != '\n';
      const auto report = verify_journal(path, /*require_seal=*/false);
      BOOST_TEST_MESSAGE("payload " << payload_size << ": " << report.records
                                    << " complete records, " << (torn ? "torn" : "no torn")
                                    << " last line");
      BOOST_TEST_CONTEXT("payload " << payload_size << " round " << round << ": "
                                    << report.problem) {
        BOOST_TEST(report.records >= static_cast<std::uint64_t>(signal_after));
        BOOST_TEST(!report.sealed);
        if (torn) {
          BOOST_TEST(!report.ok);
          BOOST_TEST(report.first_bad_line.value_or(0) == lines.size());
          BOOST_TEST(report.problem.find("torn last line") != std::string::npos);
          BOOST_TEST(report.records == lines.size() - 1);
          BOOST_CHECK_THROW(Journal{path}, JournalError);
        } else {
          BOOST_TEST(report.ok);
          BOOST_TEST(report.records == lines.size());
          Journal reopened(path);  // the lock died with the child; the chain continues
          BOOST_TEST(reopened.next_seq() == lines.size());
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(concurrent_appends_keep_seq_gap_free) {
  TempDir dir;
  const auto path = dir / "journal.jsonl";
  constexpr int threads = 4;
  constexpr int per_thread = 100;
  std::vector<std::vector<std::uint64_t>> seqs(threads);
  {
    Journal journal(path);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&journal, &seqs, t] {
        for (int i = 0; i < per_thread; ++i)
          seqs[t].push_back(journal.append("observation", {{"thread", t}, {"i", i}}).seq);
      });
    }
    for (auto& worker : workers) worker.join();
    BOOST_TEST(journal.next_seq() == static_cast<std::uint64_t>(threads * per_thread));
    journal.seal();
  }
  std::set<std::uint64_t> all;
  for (const auto& list : seqs) {
    BOOST_TEST(std::is_sorted(list.begin(), list.end()));
    all.insert(list.begin(), list.end());
  }
  BOOST_TEST(all.size() == static_cast<std::size_t>(threads * per_thread));
  BOOST_TEST(*all.rbegin() == static_cast<std::uint64_t>(threads * per_thread - 1));
  const auto report = verify_journal(path);
  BOOST_TEST(report.ok, report.problem);
  BOOST_TEST(report.records == static_cast<std::uint64_t>(threads * per_thread + 1));
  // Stamps are taken under the lock: they never go backwards along seq.
  std::int64_t last = 0;
  for (const auto& line : split_lines(read_file(path))) {
    const auto mono = json::parse(line)["mono_ns"].get<std::int64_t>();
    BOOST_TEST(mono >= last);
    last = mono;
  }
}

BOOST_AUTO_TEST_SUITE_END()
