// The audit trail: records chain by hash; a changed byte, a removed or inserted record and a cut
// tail are each found and named; a torn last line (kill -9 mid-append) is cut off and recorded.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/audit_log.hpp"
#include "tests/test_support.hpp"

namespace meterd::storage {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const auto& l : lines) out << l << '\n';
}

std::string problems_text(const AuditCheck& c) {
  std::string s;
  for (const auto& p : c.problems)
    s += "line " + std::to_string(p.line) + " seq " + std::to_string(p.seq) + ": " + p.what + "\n";
  return s;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = test::make_temp_dir("meterd-audit"); }
  void TearDown() override { fs::remove_all(dir_); }

  void write_five() {
    AuditLog log(dir_);
    for (int i = 1; i <= 5; ++i)
      EXPECT_EQ(log.append("ingest", "retailer-a", "tok-1",
                           "\"file\":\"f" + std::to_string(i) +
                               ".csv\",\"readings\":" + std::to_string(i * 48)),
                static_cast<std::uint64_t>(i));
  }

  fs::path dir_;
};

TEST_F(AuditLogTest, AnIntactLogVerifiesAndShowsEveryRecordInOrder) {
  write_five();
  const AuditCheck check = verify_audit(dir_);
  EXPECT_TRUE(check.ok()) << problems_text(check);
  EXPECT_EQ(check.records, 5u);
  EXPECT_EQ(check.last_seq, 5u);
  std::vector<std::string> payloads;
  for_each_audit_record(dir_, [&](const AuditRecord& r) {
    payloads.emplace_back(r.payload);
    EXPECT_EQ(r.seq, payloads.size());
    EXPECT_EQ(r.kind_json, "\"ingest\"");
    EXPECT_EQ(r.tenant_json, "\"retailer-a\"");
    EXPECT_EQ(r.time.size(), 27u) << r.time;  // 2026-12-07T14:50:01.123456Z
    EXPECT_EQ(r.time.back(), 'Z');
  });
  ASSERT_EQ(payloads.size(), 5u);
  EXPECT_NE(payloads[2].find("\"seq\":3,"), std::string::npos);
  EXPECT_NE(payloads[2].find("\"tenant\":\"retailer-a\""), std::string::npos);
  EXPECT_NE(payloads[2].find("\"file\":\"f3.csv\""), std::string::npos);
  // Reopened, the chain goes on where it was.
  AuditLog again(dir_);
  EXPECT_EQ(again.last_seq(), 5u);
  EXPECT_EQ(again.append("query", "retailer-a", "tok-2", "\"rows\":10"), 6u);
  EXPECT_TRUE(verify_audit(dir_).ok());
}

TEST_F(AuditLogTest, OneChangedByteIsFoundAtItsLine) {
  write_five();
  auto lines = lines_of(dir_ / "AUDIT");
  const auto at = lines[2].find("f3.csv");
  ASSERT_NE(at, std::string::npos);
  lines[2][at + 1] = '9';  // f3 -> f9
  write_lines(dir_ / "AUDIT", lines);
  const AuditCheck check = verify_audit(dir_);
  ASSERT_EQ(check.problems.size(), 1u) << problems_text(check);
  EXPECT_EQ(check.problems[0].line, 3u);
  EXPECT_EQ(check.problems[0].seq, 3u);
  EXPECT_NE(check.problems[0].what.find("altered"), std::string::npos);
}

TEST_F(AuditLogTest, ARemovedRecordIsNamedAsMissing) {
  write_five();
  auto lines = lines_of(dir_ / "AUDIT");
  lines.erase(lines.begin() + 1);  // seq 2
  write_lines(dir_ / "AUDIT", lines);
  const AuditCheck check = verify_audit(dir_);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.problems[0].line, 2u);
  EXPECT_NE(check.problems[0].what.find("records 2..2 missing"), std::string::npos)
      << problems_text(check);
}

TEST_F(AuditLogTest, AnInsertedRecordIsFoundEvenWithAValidHash) {
  write_five();
  auto lines = lines_of(dir_ / "AUDIT");
  // A well-formed record re-hashed by a forger, put in the middle with seq 3.
  {
    const fs::path other = test::make_temp_dir("meterd-audit-forged");
    AuditLog forged(other);
    for (int i = 0; i < 3; ++i) forged.append("ingest", "retailer-a", "tok-1", "\"file\":\"x\"");
    lines.insert(lines.begin() + 3, lines_of(other / "AUDIT")[2]);
    fs::remove_all(other);
  }
  write_lines(dir_ / "AUDIT", lines);
  const AuditCheck check = verify_audit(dir_);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.problems[0].line, 4u) << problems_text(check);
}

TEST_F(AuditLogTest, ATailCutAtARecordBoundaryIsCaughtByTheHead) {
  write_five();
  auto lines = lines_of(dir_ / "AUDIT");
  lines.resize(3);
  write_lines(dir_ / "AUDIT", lines);
  const AuditCheck check = verify_audit(dir_);
  ASSERT_EQ(check.problems.size(), 1u) << problems_text(check);
  EXPECT_EQ(check.problems[0].line, 0u);
  EXPECT_NE(check.problems[0].what.find("the tail was cut"), std::string::npos);
  // The daemon reopening it does not hide the cut: the gap becomes a record of its own.
  AuditLog reopened(dir_);
  EXPECT_EQ(reopened.last_seq(), 4u);
  std::string last;
  for_each_audit_record(dir_, [&](const AuditRecord& r) { last = r.payload; });
  EXPECT_NE(last.find("\"kind\":\"audit_records_missing\""), std::string::npos) << last;
  EXPECT_NE(last.find("\"head_seq\":5,\"log_seq\":3"), std::string::npos) << last;
}

TEST_F(AuditLogTest, ATornLastLineIsCutOffAndRecordedNeverTakenForARecord) {
  write_five();
  const auto size = fs::file_size(dir_ / "AUDIT");
  {
    AuditLog log(dir_);
    log.append("query", "retailer-a", "tok-1", "\"rows\":1");
  }
  // kill -9 mid-append: part of the sixth line reached the file, the head still says 6.
  fs::resize_file(dir_ / "AUDIT", size + 40);
  AuditCheck check = verify_audit(dir_);
  EXPECT_TRUE(check.torn_tail);
  EXPECT_EQ(check.records, 5u);
  AuditLog reopened(dir_);
  EXPECT_EQ(reopened.torn_bytes_cut(), 40u);
  check = verify_audit(dir_);
  EXPECT_FALSE(check.torn_tail);
  // Five records, the cut (seq 6) and the gap the head file shows (seq 7), chained.
  std::vector<std::string> payloads;
  for_each_audit_record(dir_, [&](const AuditRecord& r) { payloads.emplace_back(r.payload); });
  ASSERT_EQ(payloads.size(), 7u);
  EXPECT_NE(payloads[5].find("\"kind\":\"audit_torn_tail_cut\""), std::string::npos);
  EXPECT_NE(payloads[6].find("\"kind\":\"audit_records_missing\""), std::string::npos);
  EXPECT_TRUE(check.ok()) << problems_text(check);
}

TEST_F(AuditLogTest, AChangedHeadFileIsFound) {
  write_five();
  std::ofstream(dir_ / "AUDIT.head", std::ios::trunc) << "5 " << std::string(64, 'a') << "\n";
  const AuditCheck check = verify_audit(dir_);
  ASSERT_EQ(check.problems.size(), 1u) << problems_text(check);
  EXPECT_NE(check.problems[0].what.find("hash is not the last record's"), std::string::npos);
}

}  // namespace
}  // namespace meterd::storage
