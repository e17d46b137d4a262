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
  std::size_t copied = 0;  // text before this is in `out` already: plain runs go in one append
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + copied, i - copied);
    copied = i + 1;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        static constexpr char kHex[] = "0123456789abcdef";
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      }
    }
  }
  out.append(text.data() + copied, text.size() - copied);
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

namespace {

// Writes one record as CSV or JSON from (name, text-or-null) pairs, so both forms stay in step.
class RecordWriter {
 public:
  RecordWriter(std::string& out, bool json) : out_(out), json_(json) {
    if (json_) out_.push_back('{');
  }
  void text(const char* name, std::string_view value) {
    separator(name);
    if (json_) {
      append_json_string(out_, value);
    } else {
      append_csv_field(out_, value);
    }
  }
  void time(const char* name, epoch_seconds t) {
    separator(name);
    if (t == kNoTime) {
      if (json_) out_.append("null");
      return;
    }
    if (json_) out_.push_back('"');
    append_nem_time(out_, t);
    if (json_) out_.push_back('"');
  }
  void number(const char* name, double value) {
    separator(name);
    append_double(out_, value);
  }
  void integer(const char* name, std::int64_t value, bool present = true) {
    separator(name);
    if (!present) {
      if (json_) out_.append("null");
      return;
    }
    out_.append(std::to_string(value));
  }
  void end() { out_.append(json_ ? "}\n" : "\n"); }

 private:
  void separator(const char* name) {
    if (json_) {
      out_.append(first_ ? "\"" : ",\"");
      out_.append(name);
      out_.append("\":");
    } else if (!first_) {
      out_.push_back(',');
    }
    first_ = false;
  }
  std::string& out_;
  bool json_;
  bool first_ = true;
};

}  // namespace

void append_register_read_csv_header(std::string& out) {
  out.append(
      "nmi,suffix,register_id,meter_serial,direction,previous_read,previous_read_datetime,"
      "previous_quality_method,previous_reason_code,previous_reason_description,current_read,"
      "current_read_datetime,current_quality_method,current_reason_code,"
      "current_reason_description,quantity,uom,next_scheduled_read,update_datetime,"
      "msats_load_datetime,previous_trans_code,previous_ret_service_order,current_trans_code,"
      "current_ret_service_order,file_created,line\n");
}

void append_register_read(std::string& out, const RegisterReadPeriod& r, bool json) {
  RecordWriter w(out, json);
  w.text("nmi", r.nmi);
  w.text("suffix", r.suffix);
  w.text("register_id", r.register_id);
  w.text("meter_serial", r.meter_serial);
  w.text("direction", r.direction ? std::string_view(&r.direction, 1) : std::string_view{});
  w.text("previous_read", r.previous_read);
  w.time("previous_read_datetime", r.previous_read_datetime);
  w.text("previous_quality_method", r.previous_quality_method);
  w.integer("previous_reason_code", r.previous_reason_code,
            r.previous_reason_code != kNoReasonCode);
  w.text("previous_reason_description", r.previous_reason_description);
  w.text("current_read", r.current_read);
  w.time("current_read_datetime", r.current_read_datetime);
  w.text("current_quality_method", r.current_quality_method);
  w.integer("current_reason_code", r.current_reason_code, r.current_reason_code != kNoReasonCode);
  w.text("current_reason_description", r.current_reason_description);
  w.number("quantity", r.quantity);
  w.text("uom", r.uom);
  w.time("next_scheduled_read", r.next_scheduled_read);
  w.time("update_datetime", r.update_datetime);
  w.time("msats_load_datetime", r.msats_load_datetime);
  w.text("previous_trans_code", r.previous_trans_code);
  w.text("previous_ret_service_order", r.previous_ret_service_order);
  w.text("current_trans_code", r.current_trans_code);
  w.text("current_ret_service_order", r.current_ret_service_order);
  w.time("file_created", r.file_created);
  w.integer("line", r.line);
  w.end();
}

void append_b2b_event_csv_header(std::string& out) {
  out.append(
      "nmi,suffix,interval_date,trans_code,ret_service_order,read_datetime,index_read,"
      "file_created,line\n");
}

void append_b2b_event(std::string& out, const B2BEvent& e, bool json) {
  RecordWriter w(out, json);
  w.text("nmi", e.nmi);
  w.text("suffix", e.suffix);
  w.time("interval_date", e.interval_date);
  w.text("trans_code", e.trans_code ? std::string_view(&e.trans_code, 1) : std::string_view{});
  w.text("ret_service_order", e.ret_service_order);
  w.time("read_datetime", e.read_datetime);
  w.text("index_read", e.index_read);
  w.time("file_created", e.file_created);
  w.integer("line", e.line);
  w.end();
}

}  // namespace meterd
