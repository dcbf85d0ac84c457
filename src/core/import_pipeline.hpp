// Turns a GeoJSON document into batches of features ready to insert:
// read, validate (and repair), EWKB. No database here; the database side
// inserts each batch and reports progress between batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/geojson_reader.hpp"
#include "core/geometry_validation.hpp"

namespace geo_import::core {

struct PipelineOptions {
  InvalidPolicy on_invalid = InvalidPolicy::Repair;
  int32_t srid = 4326;                // written into each EWKB
  std::size_t batch_features = 5000;  // a batch ends at this many features...
  std::size_t batch_bytes = 8 << 20;  // ...or after this much input
};

// A span of a Batch buffer.
struct Span {
  uint32_t offset = 0;
  uint32_t length = 0;
};

struct BatchFeature {
  enum class Outcome : uint8_t { Imported, Repaired, Failed };
  std::size_t index = 0;
  Outcome outcome = Outcome::Imported;
  bool has_id = false;
  bool has_geometry = false;
  bool has_properties = false;
  Span id;                  // in Batch::text
  Span reason;              // in Batch::text: why repaired or failed
  std::size_t first_token;  // properties in Batch::tokens ...
  std::size_t token_count;
  uint32_t token_text_base;  // ... whose text offsets count from here in Batch::text
  std::size_t ewkb_offset;   // in Batch::ewkb
  std::size_t ewkb_length;
};

// The features of one batch, in flat buffers reused from batch to batch.
struct Batch {
  std::vector<BatchFeature> features;
  std::vector<PropertyToken> tokens;
  std::string text;
  std::vector<uint8_t> ewkb;

  void clear();
  std::string_view view(Span span) const { return std::string_view(text).substr(span.offset, span.length); }
  // A feature the database could not store after all (e.g. not reprojectable).
  void mark_failed(std::size_t position, std::string_view reason);
};

class ImportPipeline {
 public:
  // `data` as for GeoJsonReader; `cancel_requested` is polled while reading,
  // between features and inside GEOS.
  ImportPipeline(const char* data, std::size_t length, CancelCheck cancel_requested = nullptr);

  DocumentKind kind() const { return reader_.kind(); }
  std::size_t feature_count() const { return reader_.feature_count(); }
  std::optional<int32_t> crs_srid() const { return reader_.crs_srid(); }

  // Must be called once, before the first batch.
  void start(const PipelineOptions& options);

  // Fills `batch` with the next features; false when none are left.
  bool next_batch(Batch& batch);

 private:
  void add(Feature& feature, Batch& batch);
  Span append_text(Batch& batch, std::string_view text);

  GeoJsonReader reader_;
  CancelCheck cancel_requested_;
  PipelineOptions options_;
  std::unique_ptr<GeometryValidator> validator_;
  Feature feature_;
  std::size_t last_offset_ = 0;
};

}  // namespace geo_import::core
