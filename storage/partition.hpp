// The partition key of the readings: the tenant that owns them and the NEM-time (UTC+10) month
// of interval_start. NEM days never straddle a month, so a run (one day of one stream) always
// lands in exactly one partition. Tenants never share a partition, so nothing that works a
// partition at a time (merge, version conflicts, compaction) can mix two tenants' readings.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/reading_batch.hpp"

namespace meterd::storage {

// Months since year 0 of the NEM-time date: year * 12 + month - 1.
using MonthKey = std::int32_t;

MonthKey month_of(epoch_seconds t);
epoch_seconds month_start(MonthKey month);   // first second (UTC epoch) of the NEM month
std::string partition_name(MonthKey month);  // "month=2005-03"
// The month of a partition name ("month=2005-03", "tenant=a/month=2005-03"), if it has one.
bool month_of_partition(std::string_view partition, MonthKey& month);

// A tenant's name: 1 to 32 of [a-z0-9_-], starting with a letter or digit (it names a
// directory, so never "..", "/" or empty). "" is the default tenant of a single-tenant install,
// whose partitions keep the layout from before tenants.
bool valid_tenant(std::string_view name);
// Throws std::invalid_argument unless `tenant` is "" or valid: it becomes a path component, so
// whatever writes a tenant's data checks it first.
void require_tenant(std::string_view tenant);

struct PartitionKey {
  std::string tenant;  // "" = the default tenant
  MonthKey month = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

// "month=2005-03" for the default tenant, "tenant=NAME/month=2005-03" for another.
std::string partition_name(std::string_view tenant, MonthKey month);
// The tenant a partition name belongs to ("" for "month=..."); a name of neither form belongs
// to no tenant and yields "\x01", which no tenant is named.
std::string tenant_of_partition(std::string_view partition);
// The same as a view into `partition` (or of a static "\x01"): a query tests every part of the
// manifest with it, and must not build a string per part to do so.
std::string_view tenant_view_of_partition(std::string_view partition);

}  // namespace meterd::storage
