#include "core/import_report.hpp"

#include <cstdio>

namespace geo_import::core {

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

void ImportReport::add(const Batch& batch) {
  for (const BatchFeature& feature : batch.features) {
    std::vector<Entry>* entries = nullptr;
    switch (feature.outcome) {
      case BatchFeature::Outcome::Imported:
        ++imported_;
        break;
      case BatchFeature::Outcome::Repaired:
        ++imported_;
        ++repaired_;
        entries = &repairs_;
        break;
      case BatchFeature::Outcome::Failed:
        ++failed_;
        entries = &errors_;
        break;
    }
    if (entries != nullptr && entries->size() < max_entries_) {
      entries->push_back({feature.index, feature.has_id, std::string(batch.view(feature.id)),
                          std::string(batch.view(feature.reason))});
    }
  }
}

void ImportReport::append_entries(std::string& json, const char* name, const std::vector<Entry>& entries) {
  json += '"';
  json += name;
  json += "\":[";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[i];
    if (i > 0) json += ',';
    json += "{\"index\":" + std::to_string(entry.index) + ",\"id\":" + (entry.has_id ? json_quote(entry.id) : "null") +
            ",\"reason\":" + json_quote(entry.reason) + "}";
  }
  json += ']';
}

std::string ImportReport::metadata_json(const std::string& extra_members) const {
  std::string json = "{";
  append_entries(json, "errors", errors_);
  json += ",\"error_count\":" + std::to_string(failed_) + ",";
  append_entries(json, "repairs", repairs_);
  json += ",\"repaired_count\":" + std::to_string(repaired_);
  if (!extra_members.empty()) json += "," + extra_members;
  json += '}';
  return json;
}

std::string ImportReport::error_summary() const {
  if (failed_ == 0) return {};
  std::string summary = std::to_string(failed_) + (failed_ == 1 ? " feature" : " features") + " not imported";
  if (!errors_.empty()) {
    const Entry& first = errors_.front();
    summary += "; first: feature " + std::to_string(first.index);
    if (first.has_id) summary += " (id " + json_quote(first.id) + ")";
    summary += ": " + first.reason;
  }
  return summary;
}

}  // namespace geo_import::core
