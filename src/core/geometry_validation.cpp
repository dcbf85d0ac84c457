#include "core/geometry_validation.hpp"

#include <geos_c.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace geo_import::core {

namespace {

// GEOS 3.11 has one interrupt callback per process; a backend runs one
// import at a time, so the validator in use installs its check here.
bool (*g_cancel_requested)() = nullptr;

void poll_cancel() {
  if (g_cancel_requested != nullptr && g_cancel_requested()) GEOS_interruptRequest();
}

void ignore_notice(const char*, void*) {}

void keep_error(const char* message, void* userdata) { *static_cast<std::string*>(userdata) = message; }

std::string ordinal_in(const char* what, std::size_t number, std::size_t parent, const char* parent_what) {
  std::string text = std::string(what) + " " + std::to_string(number);
  if (parent > 0) text += std::string(" of ") + parent_what + " " + std::to_string(parent);
  return text;
}

void append_reason(std::string& reasons, const std::string& reason) {
  if (!reasons.empty()) reasons += "; ";
  reasons += reason;
}

bool is_point_type(const Geometry& geometry) {
  if (geometry.type == GeometryType::GeometryCollection) {
    return std::all_of(geometry.members.begin(), geometry.members.end(), is_point_type);
  }
  return geometry.type == GeometryType::Point || geometry.type == GeometryType::MultiPoint;
}

// Structural checks GEOS would throw on rather than report: a LineString of
// one position, a ring that is open or has fewer than four positions.
// Closes open rings when `repair` is set, noting it in `repairs`.
class StructureCheck {
 public:
  StructureCheck(bool repair, std::string& repairs) : repair_(repair), repairs_(repairs) {}

  // Empty when the structure is sound; otherwise why not.
  std::string run(Geometry& geometry) {
    position_ = 0;
    count_ = 0;
    const std::size_t dim = geometry.dimension();
    switch (geometry.type) {
      case GeometryType::Point:
        break;
      case GeometryType::MultiPoint:
        position_ += geometry.counts[0];
        break;
      case GeometryType::LineString:
        line(geometry, 1, 0);
        break;
      case GeometryType::MultiLineString: {
        const uint32_t parts = geometry.counts[count_++];
        for (uint32_t p = 1; p <= parts && problem_.empty(); ++p) line(geometry, p, parts);
        break;
      }
      case GeometryType::Polygon:
        polygon(geometry, dim, 0);
        break;
      case GeometryType::MultiPolygon: {
        const uint32_t polygons = geometry.counts[count_++];
        for (uint32_t p = 1; p <= polygons && problem_.empty(); ++p) polygon(geometry, dim, p);
        break;
      }
      case GeometryType::GeometryCollection:
        for (Geometry& member : geometry.members) {
          StructureCheck inner(repair_, repairs_);
          std::string problem = inner.run(member);
          if (!problem.empty()) return problem;
        }
        break;
    }
    return problem_;
  }

 private:
  void line(const Geometry& geometry, uint32_t number, uint32_t parts) {
    const uint32_t n = geometry.counts[count_++];
    if (n == 1) {
      problem_ = (parts > 0 ? ordinal_in("LineString", number, 0, "") + " of the MultiLineString" : "the LineString") +
                 " has 1 position; it needs at least 2";
    }
    position_ += n;
  }

  void polygon(Geometry& geometry, std::size_t dim, uint32_t polygon_number) {
    const uint32_t rings = geometry.counts[count_++];
    for (uint32_t r = 1; r <= rings; ++r) {
      uint32_t& n = geometry.counts[count_++];
      const std::string ring = ordinal_in("ring", r, polygon_number, "polygon");
      if (n > 0 && !closed(geometry, position_, n, dim)) {
        if (!repair_) {
          problem_ = ring + " is not closed (its last position differs from its first)";
          return;
        }
        const auto first = geometry.coords.begin() + static_cast<std::ptrdiff_t>(position_ * dim);
        const std::vector<double> start(first, first + static_cast<std::ptrdiff_t>(dim));
        geometry.coords.insert(geometry.coords.begin() + static_cast<std::ptrdiff_t>((position_ + n) * dim),
                               start.begin(), start.end());
        ++n;
        append_reason(repairs_, ring + " was not closed; closed it");
      }
      if (n > 0 && n < 4) {
        problem_ = ring + " has " + std::to_string(n) + " positions; a ring needs at least 4";
        return;
      }
      position_ += n;
    }
  }

  static bool closed(const Geometry& geometry, std::size_t first, uint32_t n, std::size_t dim) {
    const double* a = geometry.coords.data() + first * dim;
    const double* b = geometry.coords.data() + (first + n - 1) * dim;
    return std::equal(a, a + dim, b);
  }

  bool repair_;
  std::string& repairs_;
  std::string problem_;
  std::size_t position_ = 0;
  std::size_t count_ = 0;
};

}  // namespace

struct GeometryValidator::Geos {
  GEOSContextHandle_t handle = nullptr;
  GEOSWKBWriter* writer = nullptr;
  GEOSMakeValidParams* repair_params = nullptr;
  std::string last_error;
  bool (*cancel_requested)() = nullptr;
  GEOSInterruptCallback* previous_callback = nullptr;

  struct Deleter {
    GEOSContextHandle_t handle;
    void operator()(GEOSGeometry* geometry) const { GEOSGeom_destroy_r(handle, geometry); }
  };
  using Owned = std::unique_ptr<GEOSGeometry, Deleter>;

  Owned own(GEOSGeometry* geometry) {
    if (geometry == nullptr) throw_failure("GEOS could not build the geometry");
    return Owned(geometry, Deleter{handle});
  }

  [[noreturn]] void throw_failure(const std::string& what) {
    if (cancel_requested != nullptr && cancel_requested()) throw Interrupted();
    throw std::runtime_error(what + (last_error.empty() ? "" : ": " + last_error));
  }

  // Builds the GEOS geometry, advancing the cursors into coords and counts.
  Owned build(const Geometry& geometry) {
    std::size_t position = 0;
    std::size_t count = 0;
    return build(geometry, position, count);
  }

  Owned build(const Geometry& geometry, std::size_t& position, std::size_t& count) {
    switch (geometry.type) {
      case GeometryType::Point:
        if (geometry.coords.empty()) return own(GEOSGeom_createEmptyPoint_r(handle));
        return own(GEOSGeom_createPoint_r(handle, sequence(geometry, position, 1)));
      case GeometryType::LineString:
        return own(GEOSGeom_createLineString_r(handle, sequence(geometry, position, geometry.counts[count++])));
      case GeometryType::Polygon:
        return polygon(geometry, position, count);
      case GeometryType::MultiPoint: {
        std::vector<Owned> parts;
        const uint32_t n = geometry.counts[count++];
        for (uint32_t i = 0; i < n; ++i) parts.push_back(own(GEOSGeom_createPoint_r(handle, sequence(geometry, position, 1))));
        return collection(GEOS_MULTIPOINT, parts);
      }
      case GeometryType::MultiLineString: {
        std::vector<Owned> parts;
        const uint32_t n = geometry.counts[count++];
        for (uint32_t i = 0; i < n; ++i) {
          parts.push_back(own(GEOSGeom_createLineString_r(handle, sequence(geometry, position, geometry.counts[count++]))));
        }
        return collection(GEOS_MULTILINESTRING, parts);
      }
      case GeometryType::MultiPolygon: {
        std::vector<Owned> parts;
        const uint32_t n = geometry.counts[count++];
        for (uint32_t i = 0; i < n; ++i) parts.push_back(polygon(geometry, position, count));
        return collection(GEOS_MULTIPOLYGON, parts);
      }
      case GeometryType::GeometryCollection: {
        std::vector<Owned> parts;
        for (const Geometry& member : geometry.members) parts.push_back(build(member));
        return collection(GEOS_GEOMETRYCOLLECTION, parts);
      }
    }
    throw std::logic_error("unknown geometry type");
  }

  GEOSCoordSequence* sequence(const Geometry& geometry, std::size_t& position, uint32_t n) {
    GEOSCoordSequence* seq = GEOSCoordSeq_copyFromBuffer_r(
        handle, geometry.coords.data() + position * geometry.dimension(), n, geometry.has_z, 0);
    if (seq == nullptr) throw_failure("GEOS could not store the coordinates");
    position += n;
    return seq;
  }

  Owned polygon(const Geometry& geometry, std::size_t& position, std::size_t& count) {
    const uint32_t rings = geometry.counts[count++];
    if (rings == 0) return own(GEOSGeom_createEmptyPolygon_r(handle));
    std::vector<Owned> owned;
    for (uint32_t r = 0; r < rings; ++r) {
      owned.push_back(own(GEOSGeom_createLinearRing_r(handle, sequence(geometry, position, geometry.counts[count++]))));
    }
    std::vector<GEOSGeometry*> holes;
    for (std::size_t r = 1; r < owned.size(); ++r) holes.push_back(owned[r].get());
    GEOSGeometry* result = GEOSGeom_createPolygon_r(handle, owned[0].get(), holes.data(), rings - 1);
    if (result != nullptr) {
      for (Owned& ring : owned) ring.release();  // the polygon owns its rings now
    }
    return own(result);
  }

  Owned collection(int type, std::vector<Owned>& parts) {
    std::vector<GEOSGeometry*> raw;
    for (Owned& part : parts) raw.push_back(part.get());
    GEOSGeometry* result = GEOSGeom_createCollection_r(handle, type, raw.data(), static_cast<unsigned>(raw.size()));
    if (result != nullptr) {
      for (Owned& part : parts) part.release();
    }
    return own(result);
  }

  // GEOS's own reason, e.g. "Self-intersection[0.5 0.5]".
  std::string invalid_reason(const GEOSGeometry* geometry) {
    char* reason = GEOSisValidReason_r(handle, geometry);
    if (reason == nullptr) throw_failure("GEOS could not validate the geometry");
    std::string text(reason);
    GEOSFree_r(handle, reason);
    return text;
  }

  void append_wkb(const GEOSGeometry* geometry, bool has_z, int32_t srid, std::vector<uint8_t>& out) {
    GEOSGeometry* mutable_geometry = const_cast<GEOSGeometry*>(geometry);
    GEOSSetSRID_r(handle, mutable_geometry, srid);
    GEOSWKBWriter_setOutputDimension_r(handle, writer, has_z ? 3 : 2);
    std::size_t size = 0;
    unsigned char* wkb = GEOSWKBWriter_write_r(handle, writer, geometry, &size);
    if (wkb == nullptr) throw_failure("GEOS could not write the geometry");
    out.insert(out.end(), wkb, wkb + size);
    GEOSFree_r(handle, wkb);
  }
};

GeometryValidator::GeometryValidator(bool (*cancel_requested)()) : geos_(new Geos) {
  geos_->handle = GEOS_init_r();
  if (geos_->handle == nullptr) {
    delete geos_;
    throw std::bad_alloc();
  }
  GEOSContext_setNoticeMessageHandler_r(geos_->handle, ignore_notice, nullptr);
  GEOSContext_setErrorMessageHandler_r(geos_->handle, keep_error, &geos_->last_error);
  geos_->writer = GEOSWKBWriter_create_r(geos_->handle);
  GEOSWKBWriter_setByteOrder_r(geos_->handle, geos_->writer, GEOS_WKB_NDR);
  GEOSWKBWriter_setIncludeSRID_r(geos_->handle, geos_->writer, 1);
  // The "structure" method keeps a polygon a polygon (the default "linework"
  // turns many real polygons into GeometryCollections of polygons and lines).
  geos_->repair_params = GEOSMakeValidParams_create_r(geos_->handle);
  GEOSMakeValidParams_setMethod_r(geos_->handle, geos_->repair_params, GEOS_MAKE_VALID_STRUCTURE);
  GEOSMakeValidParams_setKeepCollapsed_r(geos_->handle, geos_->repair_params, 0);
  geos_->cancel_requested = cancel_requested;
  g_cancel_requested = cancel_requested;
  geos_->previous_callback = GEOS_interruptRegisterCallback(cancel_requested != nullptr ? poll_cancel : nullptr);
}

GeometryValidator::~GeometryValidator() {
  GEOS_interruptRegisterCallback(geos_->previous_callback);
  g_cancel_requested = nullptr;
  GEOSMakeValidParams_destroy_r(geos_->handle, geos_->repair_params);
  GEOSWKBWriter_destroy_r(geos_->handle, geos_->writer);
  GEOS_finish_r(geos_->handle);
  delete geos_;
}

Validation GeometryValidator::validate(Geometry& geometry, InvalidPolicy policy, int32_t srid,
                                       std::vector<uint8_t>& ewkb) {
  Validation result;
  std::string repairs;
  const std::string problem = StructureCheck(policy == InvalidPolicy::Repair, repairs).run(geometry);
  if (!problem.empty()) {
    result.outcome = Validation::Outcome::Invalid;
    result.reason = problem;
    return result;
  }
  if (is_point_type(geometry)) {
    // Points read from JSON are finite, hence valid: no need for GEOS.
    append_ewkb(geometry, srid, ewkb);
  } else {
    geos_->last_error.clear();
    Geos::Owned built = geos_->build(geometry);
    const char valid = GEOSisValid_r(geos_->handle, built.get());
    if (valid == 2) geos_->throw_failure("GEOS could not validate the geometry");
    if (valid == 0) {
      const std::string reason = geos_->invalid_reason(built.get());
      if (policy != InvalidPolicy::Repair) {
        result.outcome = Validation::Outcome::Invalid;
        result.reason = reason;
        return result;
      }
      GEOSGeometry* repaired = GEOSMakeValidWithParams_r(geos_->handle, built.get(), geos_->repair_params);
      if (repaired == nullptr) geos_->throw_failure("GEOS could not repair the geometry");
      Geos::Owned owned(repaired, Geos::Deleter{geos_->handle});
      if (GEOSisEmpty_r(geos_->handle, repaired) == 1) {
        result.outcome = Validation::Outcome::Invalid;
        result.reason = reason + "; repairing it left nothing";
        return result;
      }
      append_reason(repairs, reason);
      geos_->append_wkb(repaired, geometry.has_z, srid, ewkb);
    } else {
      append_ewkb(geometry, srid, ewkb);
    }
  }
  if (!repairs.empty()) {
    result.outcome = Validation::Outcome::Repaired;
    result.reason = repairs;
  }
  return result;
}

}  // namespace geo_import::core
