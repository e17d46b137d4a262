// Field-level parsing for MDFF (NEM12/NEM13) records: splitting, numbers, quality flags, UOMs.
// Pure functions over string views into the read buffer; nothing here allocates.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace meterd::mdff {

// Splits a record at commas into views. `fields` is reused by the caller (no allocation once
// it has grown to the widest record).
void split_fields(std::string_view line, std::vector<std::string_view>& fields);

// Strips spaces and tabs at both ends; `trimmed` tells whether anything was removed.
std::string_view trim(std::string_view text, bool& trimmed);

enum class NumberError : std::uint8_t { ok, empty, negative, not_a_number };

// An MDFF Numeric: digits with an optional '.' ("0", ".048", "1.5", "0.00100000000000").
// Correctly rounded: short mantissas are divided by an exact power of ten (both exact in
// binary64, so the IEEE division rounds once); anything longer goes through std::from_chars.
NumberError parse_decimal(std::string_view text, double& out);

// Fast path used inside 300 records: parses a decimal starting at p, stops at the first byte
// that is not part of it. Returns nullptr if the text is not a plain decimal there (the caller
// then takes the slow path with parse_decimal on the trimmed field).
const char* parse_decimal_fast(const char* p, double& out);

struct QualityMethod {
  char quality = 0;         // A E F S N V
  std::uint8_t method = 0;  // 0 = none
};
// "A", "N", "V" alone or "E52"/"F14"/"S53" (flag + two-digit method). A and N may also carry
// a method in some MDP output ("A01"); accepted.
bool parse_quality_method(std::string_view text, QualityMethod& out);

// 0..999 digits; empty → false with `empty` set.
bool parse_reason_code(std::string_view text, std::int16_t& out, bool& empty);

// Canonical spelling of a unit of measure ("KWH" → "kWh"); empty view if not a known UOM.
std::string_view canonical_uom(std::string_view text);

bool is_b2b_trans_code(std::string_view text);

}  // namespace meterd::mdff
