// The Parquet schema of a readings part, and the Parquet enum values we use
// (parquet-writer-guide.md §4). One row per interval reading; docs/storage.md documents it.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace meterd::storage {

namespace pq {
enum Physical : std::int32_t { kInt32 = 1, kInt64 = 2, kDouble = 5, kByteArray = 6 };
enum Repetition : std::int32_t { kRequired = 0, kOptional = 1 };
enum Converted : std::int32_t { kUtf8 = 0, kTimestampMicros = 10 };
enum Encoding : std::int32_t { kPlain = 0, kRle = 3, kDeltaBinaryPacked = 5, kRleDictionary = 8 };
enum PageType : std::int32_t { kDataPage = 0, kDictionaryPage = 2 };
inline constexpr std::int32_t kZstd = 6;
}  // namespace pq

// What a column holds, which decides its encoding and statistics.
enum class Kind : std::uint8_t { kString, kTimestamp, kInt32, kInt64, kDouble };

enum Column : int {
  kNmi,
  kSuffix,
  kRegisterId,
  kMeterSerial,
  kUom,
  kIntervalStart,
  kIntervalMinutes,
  kValue,
  kQuality,
  kMethod,
  kReasonCode,
  kReasonDescription,
  kUpdateDatetime,
  kMsatsLoadDatetime,
  kFileCreated,
  kLine,
  kFileSequence,
  kIngestTime,
  kColumnCount
};

struct ColumnSpec {
  std::string_view name;
  Kind kind;
  bool optional;
};

inline constexpr std::array<ColumnSpec, kColumnCount> kColumns{{
    {"nmi", Kind::kString, false},
    {"suffix", Kind::kString, false},
    {"register_id", Kind::kString, false},
    {"meter_serial", Kind::kString, false},
    {"uom", Kind::kString, false},
    {"interval_start", Kind::kTimestamp, false},
    {"interval_minutes", Kind::kInt32, false},
    {"value", Kind::kDouble, false},
    {"quality", Kind::kString, false},
    {"method", Kind::kInt32, true},       // kNoMethod -> null
    {"reason_code", Kind::kInt32, true},  // kNoReasonCode -> null
    {"reason_description", Kind::kString, false},
    {"update_datetime", Kind::kTimestamp, true},  // kNoTime -> null
    {"msats_load_datetime", Kind::kTimestamp, true},
    {"file_created", Kind::kTimestamp, true},
    {"line", Kind::kInt64, false},
    {"file_sequence", Kind::kInt64, false},
    {"ingest_time", Kind::kTimestamp, false},
}};

inline constexpr pq::Physical physical_type(Kind k) {
  switch (k) {
    case Kind::kString:
      return pq::kByteArray;
    case Kind::kInt32:
      return pq::kInt32;
    case Kind::kDouble:
      return pq::kDouble;
    default:
      return pq::kInt64;
  }
}

inline constexpr std::string_view kSchemaVersion = "1";
inline constexpr std::string_view kSortKey =
    "nmi,suffix,interval_start,update_datetime,file_created,line,value,quality,method,"
    "reason_code,interval_minutes,uom,reason_description,register_id,meter_serial,"
    "msats_load_datetime";
// 2: rows of one key ordered by the content version (storage/version.hpp), 1: by arrival.
inline constexpr std::string_view kWriterVersion = "meterd-storage 2";
// CRC-32C of each row group's OffsetIndex bytes (4 bytes little-endian per row group): the
// page locations are outside the pages' CRCs and the footer's.
inline constexpr std::string_view kOffsetIndexCrcKey = "meterd.offset_index_crc32c";
inline constexpr std::string_view kCreatedBy = "meterd version 0.1.0 (build dev)";

}  // namespace meterd::storage
