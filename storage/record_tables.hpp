// The record tables beside the readings: NEM13 register-read periods (250 + 550) and NEM12 B2B
// events (500). Each has a schema whose first columns are the record's key, then its version,
// then the rest of its content, then lineage (file_sequence), and is partitioned like the
// readings, by tenant and the NEM month of one timestamp column (docs/storage.md).
//
// Versions follow the readings' rule (storage/version.hpp): a total order by content, never by
// arrival. Of the records of one key the winner has the greatest version columns, then the
// greatest content column by column; file_sequence never decides.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/reading_batch.hpp"
#include "storage/partition.hpp"
#include "storage/record_part.hpp"

namespace meterd::storage {

enum class RecordTable : std::uint8_t { register_reads, b2b_events };
inline constexpr RecordTable kRecordTables[] = {RecordTable::register_reads,
                                                RecordTable::b2b_events};

struct RecordTableSpec {
  std::string_view name;  // the table's directory under DATA_DIR: "register_reads"
  std::span<const RecordColumn> columns;
  std::size_t key_columns;       // columns [0, key_columns) identify a record
  std::size_t content_columns;   // columns [key_columns, content_columns) decide the version
  std::size_t partition_column;  // a timestamp column: its NEM month is the partition
  std::string_view sort_key;     // the row order, as key-value metadata in every part
};
const RecordTableSpec& spec_of(RecordTable table);

RecordRow to_row(const RegisterReadPeriod& read, std::uint64_t file_sequence);
RecordRow to_row(const B2BEvent& event, std::uint64_t file_sequence);
RegisterReadPeriod register_read_of(const RecordRow& row);
B2BEvent b2b_event_of(const RecordRow& row);

// The month partition of a row (its tenant's partition_name of it is the directory): a month,
// not a name, so that sorting rows into partitions builds no string per row.
MonthKey partition_month(const RecordTableSpec& spec, const RecordRow& row);

// Sorts rows into the table's row order (key ascending) and keeps the winner of each key.
void keep_winners(const RecordTableSpec& spec, std::vector<RecordRow>& rows);

}  // namespace meterd::storage
