#include "storage/partition.hpp"

#include <cstdio>
#include <stdexcept>

#include "protocol/nem_time.hpp"

namespace meterd::storage {

MonthKey month_of(epoch_seconds t) {
  const CivilDate date = nem_date_of(t);
  return static_cast<MonthKey>(date.year * 12 + (date.month - 1));
}

epoch_seconds month_start(MonthKey month) {
  return days_from_civil(month / 12, static_cast<unsigned>(month % 12 + 1), 1) * 86400 -
         kNemOffsetSeconds;
}

std::string partition_name(MonthKey month) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "month=%04d-%02d", month / 12, month % 12 + 1);
  return buf;
}

bool month_of_partition(std::string_view partition, MonthKey& month) {
  const auto at = partition.rfind("month=");
  if (at == std::string_view::npos || (at > 0 && partition[at - 1] != '/')) return false;
  const std::string_view ym = partition.substr(at + 6);
  if (ym.size() != 7 || ym[4] != '-') return false;
  int y = 0, m = 0;
  for (std::size_t i = 0; i < 7; ++i) {
    if (i == 4) continue;
    if (ym[i] < '0' || ym[i] > '9') return false;
    (i < 4 ? y : m) = (i < 4 ? y : m) * 10 + (ym[i] - '0');
  }
  if (m < 1 || m > 12) return false;
  month = static_cast<MonthKey>(y * 12 + m - 1);
  return true;
}

bool valid_tenant(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

void require_tenant(std::string_view tenant) {
  if (!tenant.empty() && !valid_tenant(tenant))
    throw std::invalid_argument("invalid tenant name \"" + std::string(tenant) + "\"");
}

std::string partition_name(std::string_view tenant, MonthKey month) {
  if (tenant.empty()) return partition_name(month);
  std::string out = "tenant=";
  out += tenant;
  out += '/';
  out += partition_name(month);
  return out;
}

std::string_view tenant_view_of_partition(std::string_view partition) {
  if (partition.starts_with("month=")) return "";
  constexpr std::string_view kPrefix = "tenant=", kNone = "\x01";
  const auto slash = partition.find('/');
  // "tenant=/month=..." names no tenant: read as "", it would hand its parts to the default.
  if (!partition.starts_with(kPrefix) || slash == std::string_view::npos || slash == kPrefix.size())
    return kNone;
  return partition.substr(kPrefix.size(), slash - kPrefix.size());
}

std::string tenant_of_partition(std::string_view partition) {
  return std::string(tenant_view_of_partition(partition));
}

}  // namespace meterd::storage
