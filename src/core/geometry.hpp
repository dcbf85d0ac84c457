// The geometry model shared by the reader, the validator and the WKB writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace geo_import::core {

// Values are the WKB type codes.
enum class GeometryType : uint8_t {
  Point = 1,
  LineString = 2,
  Polygon = 3,
  MultiPoint = 4,
  MultiLineString = 5,
  MultiPolygon = 6,
  GeometryCollection = 7,
};

std::optional<GeometryType> geometry_type_from_name(std::string_view name);
std::string_view geometry_type_name(GeometryType type);

// A GeoJSON geometry, flattened so that one object can be refilled feature
// after feature without new allocations.
//
// `coords` holds the positions, `dimension()` numbers each. `counts`
// describes the nesting:
//   Point                          (none; 0 or 1 position)
//   LineString, MultiPoint         [positions]
//   Polygon, MultiLineString       [parts, positions of each part...]
//   MultiPolygon                   [polygons, then per polygon: rings, positions of each ring...]
//   GeometryCollection             (none; see `members`)
struct Geometry {
  GeometryType type = GeometryType::Point;
  bool has_z = false;
  std::vector<double> coords;
  std::vector<uint32_t> counts;
  std::vector<Geometry> members;

  void clear();
  std::size_t dimension() const { return has_z ? 3 : 2; }
  std::size_t position_count() const { return coords.size() / dimension(); }
  bool is_empty() const;
};

// Appends the geometry as little-endian EWKB with `srid` (PostGIS's input).
void append_ewkb(const Geometry& geometry, int32_t srid, std::vector<uint8_t>& out);

}  // namespace geo_import::core
