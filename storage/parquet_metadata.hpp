// Footer pieces every Parquet file meterd writes shares (readings parts and record parts).
#pragma once

#include <string_view>

#include "storage/parquet_schema.hpp"
#include "storage/thrift_compact.hpp"

namespace meterd::storage {

// One SchemaElement of a flat schema, with the logical type of strings and timestamps (µs,
// adjusted to UTC: instants), so that readers show them as text and times.
inline void write_schema_element(thrift::Writer& w, std::string_view name, Kind kind,
                                 bool optional) {
  w.begin_element();
  w.i32(1, physical_type(kind));
  w.i32(3, optional ? pq::kOptional : pq::kRequired);
  w.binary(4, name);
  if (kind == Kind::kString) {
    w.i32(6, pq::kUtf8);
    w.begin_struct(10);  // LogicalType
    w.begin_struct(1);   // STRING
    w.end_struct();
    w.end_struct();
  } else if (kind == Kind::kTimestamp) {
    w.i32(6, pq::kTimestampMicros);
    w.begin_struct(10);  // LogicalType
    w.begin_struct(8);   // TIMESTAMP
    w.boolean(1, true);  // isAdjustedToUTC
    w.begin_struct(2);   // unit
    w.begin_struct(2);   // MICROS
    w.end_struct();
    w.end_struct();
    w.end_struct();
    w.end_struct();
  }
  w.end_struct();
}

}  // namespace meterd::storage
