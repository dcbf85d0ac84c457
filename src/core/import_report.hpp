// Counts an import's outcomes and keeps the per-feature reasons that go into
// import_logs.metadata: {index, id, reason} for each failed feature and each
// repaired one, at most max_entries of each, with the totals kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/import_pipeline.hpp"

namespace geo_import::core {

class ImportReport {
 public:
  explicit ImportReport(std::size_t max_entries) : max_entries_(max_entries) {}

  void add(const Batch& batch);

  uint32_t imported() const { return imported_; }  // repaired ones included
  uint32_t failed() const { return failed_; }
  uint32_t repaired() const { return repaired_; }

  // The metadata object; `extra_members` (JSON members without braces, may be
  // empty) is merged in.
  std::string metadata_json(const std::string& extra_members) const;

  // One line for the result row; empty when no feature failed.
  std::string error_summary() const;

 private:
  struct Entry {
    std::size_t index;
    bool has_id;
    std::string id;
    std::string reason;
  };

  static void append_entries(std::string& json, const char* name, const std::vector<Entry>& entries);

  std::size_t max_entries_;
  uint32_t imported_ = 0;
  uint32_t failed_ = 0;
  uint32_t repaired_ = 0;
  std::vector<Entry> errors_;
  std::vector<Entry> repairs_;
};

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace geo_import::core
