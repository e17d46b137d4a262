// Pure helpers of the actors layer: config loader, batch assembler.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "actors/batch_assembler.hpp"
#include "actors/config.hpp"
#include "tests/test_support.hpp"

namespace meterd::test {
namespace {

ReadingBatch make_batch(
    std::initializer_list<std::tuple<const char*, const char*, epoch_seconds>> runs,
    std::uint32_t per_run = 3) {
  ReadingBatch b;
  for (auto [nmi, suffix, start] : runs) {
    ReadingRun r;
    r.nmi = b.strings.intern(nmi);
    r.suffix = b.strings.intern(suffix);
    r.uom = b.strings.intern("KWH");
    r.interval_minutes = 30;
    r.first_start = start;
    r.first_value = static_cast<std::uint32_t>(b.values.size());
    r.count = per_run;
    for (std::uint32_t k = 0; k < per_run; ++k) b.values.push_back(start / 1000.0 + k);
    b.runs.push_back(r);
  }
  return b;
}

// 2024-01-15 and 2024-02-15, NEM midnight (UTC 14:00 the day before).
constexpr epoch_seconds kJan = 1705240800, kFeb = 1707919200;

TEST(ConfigTest, ShippedConfigParsesDocumentsEveryKeyAndMatchesTheDefaults) {
  auto path = source_dir() / "conf" / "meterd.conf";
  auto text = read_file(path);
  for (const auto& key : actors::Config::keys())
    EXPECT_NE(text.find("\n" + key + " ="), std::string::npos) << key << " not in " << path;
  auto loaded = actors::Config::load(path);
  // One difference: it names conf/rollups.conf, which holds the built-in definitions.
  const actors::Config defaults;
  EXPECT_EQ(loaded.rollups, "rollups.conf");
  EXPECT_EQ(loaded.rollup_definitions, defaults.rollup_definitions);
  EXPECT_EQ(loaded.rollup_definitions.size(), 4u);
  loaded.rollups = defaults.rollups;
  EXPECT_EQ(loaded.render(), defaults.render())
      << "conf/meterd.conf must show the defaults of actors/defaults.hpp";
}

TEST(ConfigTest, RejectsUnknownKeysAndBadValues) {
  EXPECT_THROW(actors::Config::parse("nope = 1\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("reader_window = -1\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("writer_window = 0\n", "t"), std::invalid_argument);
  EXPECT_THROW(actors::Config::parse("just words\n", "t"), std::invalid_argument);
  auto c = actors::Config::parse("# comment\n reader_window = 7  # trailing\nstrict = yes\n", "t");
  EXPECT_EQ(c.reader_window, 7u);
  EXPECT_TRUE(c.strict);
}

TEST(BatchAssemblerTest, SplitsByMonthSortsAndCountsShares) {
  actors::BatchAssembler a;
  auto b1 = make_batch({{"NMI2", "E1", kFeb}, {"NMI1", "E1", kJan}, {"NMI1", "B1", kFeb}});
  auto b2 = make_batch({{"NMI0", "E1", kJan}});
  a.add(7, b1);
  a.add(8, b2);
  EXPECT_TRUE(b1.empty());
  EXPECT_EQ(a.buffered_readings(), 12u);
  EXPECT_EQ(a.partitions(), 2u);
  auto sealed_jan = a.seal({"", storage::month_of(kJan)});
  const auto& jan = *sealed_jan.partition;
  EXPECT_EQ(storage::partition_name(jan.month), "month=2024-01");
  ASSERT_EQ(jan.batch.runs.size(), 2u);
  EXPECT_EQ(jan.batch.strings[jan.batch.runs[0].nmi], "NMI0");
  EXPECT_EQ(jan.batch.strings[jan.batch.runs[1].nmi], "NMI1");
  EXPECT_EQ(jan.batch.values[jan.batch.runs[0].first_value], kJan / 1000.0);
  std::set<std::pair<actors::StreamId, std::uint64_t>> shares;
  for (auto s : sealed_jan.shares) shares.insert({s.stream, s.readings});
  EXPECT_EQ(shares, (std::set<std::pair<actors::StreamId, std::uint64_t>>{{7, 3}, {8, 3}}));
  auto sealed_feb = a.seal({"", storage::month_of(kFeb)});
  const auto& feb = *sealed_feb.partition;
  ASSERT_EQ(feb.batch.runs.size(), 2u);
  EXPECT_EQ(feb.batch.strings[feb.batch.runs[0].nmi], "NMI1");
  EXPECT_EQ(feb.batch.strings[feb.batch.runs[0].suffix], "B1");
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.buffered_readings(), 0u);
}

// Two tenants' readings of the same key and month never share a sealed batch.
TEST(BatchAssemblerTest, KeepsTenantsApart) {
  actors::BatchAssembler a;
  auto of_a = make_batch({{"NMI1", "E1", kJan}});
  auto of_b = make_batch({{"NMI1", "E1", kJan}});
  const auto now = actors::BatchAssembler::Clock::now();
  a.add(1, of_a, now, "a");
  a.add(2, of_b, now, "b");
  EXPECT_EQ(a.partitions(), 2u);
  auto sealed_b = a.seal({"b", storage::month_of(kJan)});
  EXPECT_EQ(sealed_b.partition->tenant, "b");
  ASSERT_EQ(sealed_b.shares.size(), 1u);
  EXPECT_EQ(sealed_b.shares[0].stream, 2u);
  EXPECT_EQ(storage::partition_name(sealed_b.partition->tenant, sealed_b.partition->month),
            "tenant=b/month=2024-01");
  auto sealed_a = a.seal(*a.largest());
  EXPECT_EQ(sealed_a.partition->tenant, "a");
  EXPECT_TRUE(a.empty());
}

TEST(ConfigTest, TokensAreBoundToConfiguredTenantsAndRoles) {
  const std::string hex(64, 'a'), other(64, 'b');
  auto c =
      actors::Config::parse("tenants = ret_a:RETA+RETB, net-b:NETB\nhttp_tokens = sha256:" + hex +
                                "@ret_a/ingest+query, sha256:" + other + "@*/admin\n",
                            "t");
  ASSERT_EQ(c.tenants.size(), 2u);
  EXPECT_EQ(c.tenants[0].participants, (std::vector<std::string>{"RETA", "RETB"}));
  ASSERT_NE(c.tenant("net-b"), nullptr);
  EXPECT_EQ(c.tenant("nope"), nullptr);
  const auto tokens = c.token_bindings();
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0].tenant, "ret_a");
  EXPECT_EQ(tokens[0].roles, actors::kRoleIngest | actors::kRoleQuery);
  EXPECT_EQ(tokens[1].tenant, "*");
  EXPECT_EQ(tokens[1].roles, actors::kRoleAdmin);
  // The rendering reads back the same.
  EXPECT_NE(c.render().find("tenants = ret_a:RETA+RETB, net-b:NETB"), std::string::npos);
  const std::string tenants = "tenants = a:X\n";
  // Unbound, of an unknown tenant, an unknown role, @* without admin, a tenant without tenants.
  for (const std::string& bad : std::vector<std::string>{
           tenants + "http_tokens = sha256:" + hex + "\n",
           tenants + "http_tokens = sha256:" + hex + "@b/query\n",
           tenants + "http_tokens = sha256:" + hex + "@a/root\n",
           tenants + "http_tokens = sha256:" + hex + "@*/query\n",
           "http_tokens = sha256:" + hex + "@a/query\n", "tenants = A:X\n", "tenants = ..:X\n",
           "tenants = a:X, a:Y\n", "tenant_participant_field = cc\n"})
    EXPECT_THROW(actors::Config::parse(bad, "t"), std::invalid_argument) << bad;
  // A single-tenant install keeps bare tokens, with every role.
  auto single = actors::Config::parse("http_tokens = sha256:" + hex + "\n", "t");
  EXPECT_EQ(single.token_bindings().at(0).roles,
            actors::kRoleIngest | actors::kRoleQuery | actors::kRoleAdmin);
  EXPECT_EQ(single.token_bindings().at(0).tenant, "");
}

}  // namespace
}  // namespace meterd::test
