#include "core/geometry.hpp"

#include <cstring>
#include <limits>

namespace geo_import::core {

namespace {

struct NamedType {
  std::string_view name;
  GeometryType type;
};

constexpr NamedType kTypeNames[] = {
    {"Point", GeometryType::Point},
    {"LineString", GeometryType::LineString},
    {"Polygon", GeometryType::Polygon},
    {"MultiPoint", GeometryType::MultiPoint},
    {"MultiLineString", GeometryType::MultiLineString},
    {"MultiPolygon", GeometryType::MultiPolygon},
    {"GeometryCollection", GeometryType::GeometryCollection},
};

// Coordinates are copied as they lie in memory: the host must be little endian.
static_assert(std::numeric_limits<double>::is_iec559, "WKB needs IEEE doubles");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "EWKB is written little endian");

constexpr uint32_t kEwkbZFlag = 0x80000000u;
constexpr uint32_t kEwkbSridFlag = 0x20000000u;

class EwkbWriter {
 public:
  explicit EwkbWriter(std::vector<uint8_t>& out) : out_(out) {}

  void write(const Geometry& geometry, int32_t srid, bool with_srid) {
    const std::size_t dim = geometry.dimension();
    const double* position = geometry.coords.data();
    const uint32_t* count = geometry.counts.data();
    write_header(geometry.type, geometry.has_z, srid, with_srid);
    switch (geometry.type) {
      case GeometryType::Point:
        if (geometry.coords.empty()) {
          // PostGIS reads a point of NaN coordinates as POINT EMPTY.
          for (std::size_t i = 0; i < dim; ++i) write_double(std::numeric_limits<double>::quiet_NaN());
        } else {
          write_positions(position, 1, dim);
        }
        break;
      case GeometryType::LineString:
        write_sequence(position, count, dim);
        break;
      case GeometryType::Polygon:
        write_rings(position, count, dim);
        break;
      case GeometryType::MultiPoint: {
        uint32_t n = *count++;
        write_u32(n);
        for (uint32_t i = 0; i < n; ++i) {
          write_header(GeometryType::Point, geometry.has_z, srid, false);
          write_positions(position, 1, dim);
        }
        break;
      }
      case GeometryType::MultiLineString: {
        uint32_t n = *count++;
        write_u32(n);
        for (uint32_t i = 0; i < n; ++i) {
          write_header(GeometryType::LineString, geometry.has_z, srid, false);
          write_sequence(position, count, dim);
        }
        break;
      }
      case GeometryType::MultiPolygon: {
        uint32_t n = *count++;
        write_u32(n);
        for (uint32_t i = 0; i < n; ++i) {
          write_header(GeometryType::Polygon, geometry.has_z, srid, false);
          write_rings(position, count, dim);
        }
        break;
      }
      case GeometryType::GeometryCollection:
        write_u32(static_cast<uint32_t>(geometry.members.size()));
        for (const Geometry& member : geometry.members) write(member, srid, false);
        break;
    }
  }

 private:
  void write_header(GeometryType type, bool has_z, int32_t srid, bool with_srid) {
    out_.push_back(1);  // little endian
    uint32_t code = static_cast<uint32_t>(type);
    if (has_z) code |= kEwkbZFlag;
    if (with_srid) code |= kEwkbSridFlag;
    write_u32(code);
    if (with_srid) write_u32(static_cast<uint32_t>(srid));
  }

  // A run of positions preceded by its count; advances both cursors.
  void write_sequence(const double*& position, const uint32_t*& count, std::size_t dim) {
    uint32_t n = *count++;
    write_u32(n);
    write_positions(position, n, dim);
  }

  void write_rings(const double*& position, const uint32_t*& count, std::size_t dim) {
    uint32_t rings = *count++;
    write_u32(rings);
    for (uint32_t r = 0; r < rings; ++r) write_sequence(position, count, dim);
  }

  void write_positions(const double*& position, std::size_t n, std::size_t dim) {
    const std::size_t bytes = n * dim * sizeof(double);
    if (bytes == 0) return;  // an empty geometry has no coordinates, and memcpy no null source
    const std::size_t at = out_.size();
    out_.resize(at + bytes);
    std::memcpy(out_.data() + at, position, bytes);
    position += n * dim;
  }

  void write_u32(uint32_t value) {
    const std::size_t at = out_.size();
    out_.resize(at + sizeof value);
    std::memcpy(out_.data() + at, &value, sizeof value);
  }

  void write_double(double value) {
    const std::size_t at = out_.size();
    out_.resize(at + sizeof value);
    std::memcpy(out_.data() + at, &value, sizeof value);
  }

  std::vector<uint8_t>& out_;
};

}  // namespace

std::optional<GeometryType> geometry_type_from_name(std::string_view name) {
  for (const NamedType& entry : kTypeNames) {
    if (entry.name == name) return entry.type;
  }
  return std::nullopt;
}

std::string_view geometry_type_name(GeometryType type) {
  for (const NamedType& entry : kTypeNames) {
    if (entry.type == type) return entry.name;
  }
  return "Unknown";
}

void Geometry::clear() {
  type = GeometryType::Point;
  has_z = false;
  coords.clear();
  counts.clear();
  members.clear();
}

bool Geometry::is_empty() const {
  if (type == GeometryType::GeometryCollection) {
    for (const Geometry& member : members) {
      if (!member.is_empty()) return false;
    }
    return true;
  }
  return coords.empty();
}

void append_ewkb(const Geometry& geometry, int32_t srid, std::vector<uint8_t>& out) {
  EwkbWriter(out).write(geometry, srid, true);
}

}  // namespace geo_import::core
