// Tenant partitions: every tenant's readings and records live in partitions of their own
// (readings/tenant=NAME/month=YYYY-MM, the default tenant keeps readings/month=YYYY-MM), so one
// stream written for several tenants stays that many streams through queries, versions,
// conflict checks, compaction and crash recovery.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "storage/ledger.hpp"
#include "storage/partition.hpp"

namespace meterd::storage::test {
namespace {

constexpr MonthKey kMarch = 2005 * 12 + 2;

TEST(TenantNames, OnlyDirectorySafeNamesAreTenants) {
  for (const std::string& bad :
       std::vector<std::string>{"", "..", ".", "a/b", "A", "-x", "_x", "a b", "a.b", "tenant=a",
                                std::string(33, 'a'), std::string("a\0b", 3)})
    EXPECT_FALSE(valid_tenant(bad)) << bad;
  for (const std::string& good :
       std::vector<std::string>{"retailer_a", "net-1", "0", "a", std::string(32, 'z')})
    EXPECT_TRUE(valid_tenant(good)) << good;
  EXPECT_NO_THROW(require_tenant(""));
  EXPECT_NO_THROW(require_tenant("net-1"));
  EXPECT_THROW(require_tenant(".."), std::invalid_argument);
}

TEST(TenantNames, PartitionNamesAndTheTenantTheyBelongTo) {
  EXPECT_EQ(partition_name("", kMarch), "month=2005-03");
  EXPECT_EQ(partition_name("", kMarch), partition_name(kMarch));
  EXPECT_EQ(partition_name("retailer_a", kMarch), "tenant=retailer_a/month=2005-03");
  EXPECT_EQ(tenant_of_partition("month=2005-03"), "");
  EXPECT_EQ(tenant_of_partition("tenant=retailer_a/month=2005-03"), "retailer_a");
  EXPECT_EQ(tenant_of_partition(partition_name("net-1", kMarch)), "net-1");
  // Names of neither form belong to no tenant, not to the default one.
  for (const char* odd : {"tenant=/month=2005-03", "tenant=a", "manifest", "", "x/month=2005-03"})
    EXPECT_EQ(tenant_of_partition(odd), "\x01") << odd;
  EXPECT_EQ(tenant_view_of_partition("tenant=a/month=2005-03"), "a");
  const std::string hash(64, 'f');
  EXPECT_EQ(ledger_key("", hash), hash);
  EXPECT_EQ(ledger_key("a", hash), "a:" + hash);
  EXPECT_NE(ledger_key("a", hash), ledger_key("b", hash));
}

}  // namespace
}  // namespace meterd::storage::test
