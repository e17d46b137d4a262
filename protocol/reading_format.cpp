#include "protocol/reading_format.hpp"

#include <charconv>

namespace meterd {
namespace {

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_method(std::string& out, std::uint8_t method) {
  if (method != kNoMethod) {
    out.push_back(static_cast<char>('0' + method / 10));
    out.push_back(static_cast<char>('0' + method % 10));
  }
}

void append_reason(std::string& out, std::int16_t code) {
  if (code != kNoReasonCode) append_uint(out, static_cast<std::uint64_t>(code));
}

}  // namespace

void append_double(std::string& out, double value) {
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, res.ptr);
}

void append_csv_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\u00");
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

void append_csv_header(std::string& out) {
  out.append(
      "nmi,suffix,interval_start,interval_minutes,value,uom,quality,method,reason_code,"
      "reason_description,update_datetime,msats_load_datetime,register_id,meter_serial,"
      "file_created,line\n");
}

void append_csv_row(std::string& out, const ReadingRow& r) {
  append_csv_field(out, r.nmi);
  out.push_back(',');
  append_csv_field(out, r.suffix);
  out.push_back(',');
  append_nem_time(out, r.interval_start);
  out.push_back(',');
  append_uint(out, r.interval_minutes);
  out.push_back(',');
  append_double(out, r.value);
  out.push_back(',');
  append_csv_field(out, r.uom);
  out.push_back(',');
  out.push_back(r.quality);
  out.push_back(',');
  append_method(out, r.method);
  out.push_back(',');
  append_reason(out, r.reason_code);
  out.push_back(',');
  append_csv_field(out, r.reason_description);
  out.push_back(',');
  append_nem_time(out, r.update_datetime);
  out.push_back(',');
  append_nem_time(out, r.msats_load_datetime);
  out.push_back(',');
  append_csv_field(out, r.register_id);
  out.push_back(',');
  append_csv_field(out, r.meter_serial);
  out.push_back(',');
  append_nem_time(out, r.file_created);
  out.push_back(',');
  append_uint(out, r.line);
  out.push_back('\n');
}

void append_json_row(std::string& out, const ReadingRow& r) {
  bool first = true;
  auto key = [&](const char* name) {
    out.append(first ? "\"" : ",\"");
    first = false;
    out.append(name);
    out.append("\":");
  };
  auto time = [&](const char* name, epoch_seconds t) {
    key(name);
    if (t == kNoTime) {
      out.append("null");
    } else {
      out.push_back('"');
      append_nem_time(out, t);
      out.push_back('"');
    }
  };
  out.push_back('{');
  key("nmi");
  append_json_string(out, r.nmi);
  key("suffix");
  append_json_string(out, r.suffix);
  time("interval_start", r.interval_start);
  key("interval_minutes");
  append_uint(out, r.interval_minutes);
  key("value");
  append_double(out, r.value);
  key("uom");
  append_json_string(out, r.uom);
  key("quality");
  append_json_string(out, std::string_view(&r.quality, 1));
  key("method");
  if (r.method == kNoMethod)
    out.append("null");
  else
    append_uint(out, r.method);
  key("reason_code");
  if (r.reason_code == kNoReasonCode)
    out.append("null");
  else
    append_uint(out, static_cast<std::uint64_t>(r.reason_code));
  key("reason_description");
  append_json_string(out, r.reason_description);
  time("update_datetime", r.update_datetime);
  time("msats_load_datetime", r.msats_load_datetime);
  key("register_id");
  append_json_string(out, r.register_id);
  key("meter_serial");
  append_json_string(out, r.meter_serial);
  time("file_created", r.file_created);
  key("line");
  append_uint(out, r.line);
  out.append("}\n");
}

}  // namespace meterd
