// Reads RFC 7946 GeoJSON (and the 2008 `crs` member) feature by feature.
//
// The document is walked by a small scanner that only finds where each
// feature starts and ends, so reading a large FeatureCollection costs no
// memory beyond one feature; each feature is then parsed with simdjson
// On-Demand. A broken document raises DocumentError; a broken feature is
// reported on that feature alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/cancel.hpp"
#include "core/geometry.hpp"

namespace geo_import::core {

// The whole document cannot be imported.
class DocumentError : public std::runtime_error {
 public:
  enum class Kind {
    Malformed,    // not JSON
    NotGeoJson,   // JSON, but not a GeoJSON object this reader takes
    Unsupported,  // GeoJSON we decline, e.g. an unknown crs
  };
  DocumentError(Kind kind, std::size_t byte_offset, const std::string& message)
      : std::runtime_error(message), kind(kind), byte_offset(byte_offset) {}
  Kind kind;
  std::size_t byte_offset;
};

enum class DocumentKind { FeatureCollection, Feature, Geometry };

// How deep a feature's `properties` may nest (the object itself is level 1);
// deeper fails that feature. It keeps the feature within the 1024 levels
// simdjson's parser tracks, and within what the database side turns into jsonb.
constexpr std::size_t kMaxPropertyDepth = 1000;

// The most bytes jsonb stores in one string, and in one object's or array's
// contents: it keeps lengths and offsets in 28 bits (JENTRY_OFFLENMASK). A
// property text longer than that (a string, a name, a number kept as a
// string), or a feature's property texts together, fail the feature, decided
// on the raw text: jsonb would refuse them only after they were copied,
// several times over (a 1 GB string cost several GB).
constexpr std::size_t kMaxJsonbLength = (std::size_t{1} << 28) - 1;

// How many GeometryCollections may nest in one another; deeper fails that
// feature. PostGIS refuses 200 levels of geometry, and GEOS recurses too.
constexpr std::size_t kMaxCollectionNesting = 100;

// A feature's properties as a flat token stream, for the database side to
// turn into jsonb without parsing the text again. Strings are unescaped; a
// NUL character (which jsonb cannot hold) becomes U+FFFD. Numbers keep their
// text; a number PostgreSQL's numeric cannot hold (e.g. 1e200000) becomes a
// string of that text.
struct PropertyToken {
  enum class Kind : uint8_t { BeginObject, EndObject, BeginArray, EndArray, Key, String, Number, True, False, Null };
  Kind kind;
  uint32_t text_offset;  // into Properties::text, for Key, String and Number
  uint32_t text_length;
};

struct Properties {
  std::vector<PropertyToken> tokens;  // empty: `properties` null or absent
  std::string text;
  void clear() {
    tokens.clear();
    text.clear();
  }
};

struct Feature {
  std::size_t index = 0;        // position in the file, from 0
  std::size_t byte_offset = 0;  // where the feature starts in the document
  bool has_id = false;
  std::string id;  // a string id unescaped (NUL as U+FFFD), a number as written
  Properties properties;
  bool has_geometry = false;  // false: `geometry` null (an unlocated feature)
  Geometry geometry;
  std::vector<std::string> notes;  // what was changed while reading, e.g. Z dropped
  std::string error;               // non-empty: the feature cannot be imported, and why

  void clear();
};

class GeoJsonReader {
 public:
  // `data` must stay valid while the reader is used; nothing past `length`
  // is read. A document that is a JSON string is taken to hold the GeoJSON text (a
  // file sent as text); byte offsets then count in that text.
  // `cancel_requested` is polled while the document is scanned.
  // `max_property_length` is jsonb's limit (kMaxJsonbLength); tests lower it.
  GeoJsonReader(const char* data, std::size_t length, CancelCheck cancel_requested = nullptr,
                std::size_t max_property_length = kMaxJsonbLength);
  ~GeoJsonReader();
  GeoJsonReader(const GeoJsonReader&) = delete;
  GeoJsonReader& operator=(const GeoJsonReader&) = delete;

  DocumentKind kind() const { return kind_; }
  std::size_t feature_count() const { return feature_count_; }
  // The SRID named by a 2008-style `crs` member, if there is one.
  std::optional<int32_t> crs_srid() const { return crs_srid_; }

  // Reads the next feature into `feature`; false when there are no more.
  bool next(Feature& feature);

 private:
  struct Parser;

  void unwrap_string_document();
  void read_top_level();
  void read_crs(std::string_view crs);

  const char* data_;
  std::size_t length_;
  CancelCheck cancel_requested_;
  std::unique_ptr<Parser> parser_;
  std::string unwrapped_;  // the GeoJSON text of a string document
  DocumentKind kind_ = DocumentKind::Geometry;
  std::size_t feature_count_ = 0;
  std::optional<int32_t> crs_srid_;
  std::size_t cursor_ = 0;     // next byte to scan in the features array
  std::size_t array_end_ = 0;  // the features array's closing bracket
  std::size_t next_index_ = 0;
};

// The SRID a `crs` name denotes: "EPSG:2056", "urn:ogc:def:crs:EPSG::2056",
// "urn:ogc:def:crs:EPSG:6.6:2056", "urn:ogc:def:crs:OGC:1.3:CRS84" (4326).
std::optional<int32_t> srid_from_crs_name(std::string_view name);

}  // namespace geo_import::core
