#include "core/geometry_validation.hpp"

#include <geos_c.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <utility>

namespace geo_import::core {

namespace {

// GEOS 3.11 has one interrupt callback per process; a backend runs one
// import at a time, so the validator in use installs its check here.
CancelCheck g_cancel_requested = nullptr;

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

std::string positions(std::size_t n) { return std::to_string(n) + (n == 1 ? " position" : " positions"); }

std::string shortest(double value) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, value);
  return std::string(text, result.ptr);
}

void append_reason(std::string& reasons, const std::string& reason) {
  if (!reasons.empty()) reasons += "; ";
  reasons += reason;
}

// GEOS gave up on a geometry, e.g. a TopologyException while repairing
// one whose coordinates overflow in its arithmetic: that feature fails.
class GeosFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

bool is_point_type(const Geometry& geometry) {
  if (geometry.type == GeometryType::GeometryCollection) {
    return std::all_of(geometry.members.begin(), geometry.members.end(), is_point_type);
  }
  return geometry.type == GeometryType::Point || geometry.type == GeometryType::MultiPoint;
}

// Structural checks GEOS would throw on, or PostGIS refuse, rather than
// report: a LineString of one position, a ring that is open or has fewer
// than four positions (an empty one included). When repairing, it closes
// open rings and drops the degenerate parts a feature can lose and still be
// itself: a short hole, a MultiPolygon's polygon whose shell is short, a
// MultiLineString's one-position LineString, a GeometryCollection's broken
// member. Each repair is noted in `repairs`; a feature left with nothing, or
// a Polygon or LineString that is degenerate itself, is a problem.
class StructureCheck {
 public:
  // `where` names the geometry in messages, e.g. "geometry 2 of the
  // GeometryCollection"; empty for the feature's own geometry.
  StructureCheck(bool repair, std::string& repairs, std::string where = {})
      : repair_(repair), repairs_(repairs), where_(std::move(where)) {}

  // Empty when the structure is sound (after repairs); otherwise why not.
  std::string run(Geometry& geometry) {
    dim_ = geometry.dimension();
    std::size_t count = 0;
    std::size_t position = 0;
    switch (geometry.type) {
      case GeometryType::Point:
      case GeometryType::MultiPoint:
        return {};
      case GeometryType::LineString:
        return located(line_problem(geometry.counts[0], "the LineString"));
      case GeometryType::MultiLineString:
        return multi_line_string(geometry);
      case GeometryType::Polygon:
        return located(polygon(geometry, count, position, 0));
      case GeometryType::MultiPolygon:
        return multi_polygon(geometry);
      case GeometryType::GeometryCollection:
        return collection(geometry);
    }
    return {};
  }

 private:
  static std::string line_problem(uint32_t n, const std::string& line) {
    if (n != 1) return {};
    return line + " has 1 position; it needs at least 2";
  }

  std::string multi_line_string(Geometry& geometry) {
    std::string dropped;
    const uint32_t parts = geometry.counts[0];
    std::size_t count = 1;
    std::size_t position = 0;
    for (uint32_t p = 1; p <= parts; ++p) {
      const uint32_t n = geometry.counts[count];
      const std::string problem = line_problem(n, ordinal_in("LineString", p, 0, "") + " of the MultiLineString");
      if (problem.empty()) {
        ++count;
        position += n;
        continue;
      }
      if (!repair_) return located(problem);
      erase(geometry, count, 1, position, n);
      --geometry.counts[0];
      note(problem + "; dropped that LineString");
      append_reason(dropped, problem);
    }
    return geometry.counts[0] == 0 ? located(dropped) : std::string();
  }

  // Checks the polygon whose ring count is at counts[count], advancing the
  // cursors past it. Open rings are closed and degenerate holes dropped when
  // repairing; what is left is returned: a problem with the shell, or any
  // problem when not repairing. `number` is the polygon's in a MultiPolygon.
  std::string polygon(Geometry& geometry, std::size_t& count, std::size_t& position, uint32_t number) {
    const std::size_t rings_slot = count++;
    const uint32_t rings = geometry.counts[rings_slot];
    for (uint32_t r = 1; r <= rings; ++r) {
      const std::string problem = check_ring(geometry, count, position, ordinal_in("ring", r, number, "polygon"));
      if (problem.empty()) {
        position += geometry.counts[count++];
        continue;
      }
      if (r == 1 || !repair_) return problem;
      erase(geometry, count, 1, position, geometry.counts[count]);
      --geometry.counts[rings_slot];
      note(problem + "; dropped that ring");
    }
    return {};
  }

  // Closes the ring at counts[count], called `ring` in messages, when it is
  // open and repairing is on; why the ring cannot be used otherwise.
  std::string check_ring(Geometry& geometry, std::size_t count, std::size_t position, const std::string& ring) {
    uint32_t& n = geometry.counts[count];
    const std::string too_short = ring + " has " + positions(n) + "; a ring needs at least 4";
    if (n == 0) return too_short;
    const double* first = geometry.coords.data() + position * dim_;
    const double* last = first + (n - 1) * dim_;
    const bool closed_in_xy = first[0] == last[0] && first[1] == last[1];
    const bool closed = closed_in_xy && (dim_ == 2 || first[2] == last[2]);
    if (n + (closed ? 0 : 1) < 4) return too_short;
    if (closed) return {};
    // RFC 7946 wants identical first and last positions, Z included; a ring
    // open only in Z is closed like any other (as GDAL does), not flattened.
    const std::string what = closed_in_xy ? " is closed in X and Y but not in Z (its first position has Z " +
                                                shortest(first[2]) + ", its last Z " + shortest(last[2]) + ")"
                                          : " is not closed (its last position differs from its first)";
    if (!repair_) return ring + what;
    const std::vector<double> start(first, first + dim_);
    geometry.coords.insert(geometry.coords.begin() + static_cast<std::ptrdiff_t>((position + n) * dim_), start.begin(),
                           start.end());
    ++n;
    note(ring + what + "; closed it by repeating its first position");
    return {};
  }

  std::string multi_polygon(Geometry& geometry) {
    std::string dropped;
    const uint32_t polygons = geometry.counts[0];
    std::size_t count = 1;
    std::size_t position = 0;
    for (uint32_t p = 1; p <= polygons; ++p) {
      const std::size_t polygon_count = count;
      const std::size_t polygon_position = position;
      const std::string problem = polygon(geometry, count, position, p);
      if (problem.empty()) continue;
      if (!repair_) return located(problem);
      // The shell is degenerate: the polygon goes, with its holes.
      const uint32_t rings = geometry.counts[polygon_count];
      std::size_t n = 0;
      for (uint32_t r = 1; r <= rings; ++r) n += geometry.counts[polygon_count + r];
      erase(geometry, polygon_count, 1 + rings, polygon_position, n);
      --geometry.counts[0];
      count = polygon_count;
      position = polygon_position;
      note(problem + "; dropped polygon " + std::to_string(p));
      append_reason(dropped, problem);
    }
    return geometry.counts[0] == 0 ? located(dropped) : std::string();
  }

  std::string collection(Geometry& geometry) {
    std::string dropped;
    const std::size_t members = geometry.members.size();
    std::size_t i = 0;
    for (std::size_t m = 1; m <= members; ++m) {
      const std::string member =
          "geometry " + std::to_string(m) + " of " + (where_.empty() ? std::string("the GeometryCollection") : where_);
      const std::string problem = StructureCheck(repair_, repairs_, member).run(geometry.members[i]);
      if (problem.empty()) {
        ++i;
        continue;
      }
      if (!repair_) return problem;
      geometry.members.erase(geometry.members.begin() + static_cast<std::ptrdiff_t>(i));
      append_reason(repairs_, problem + "; dropped " + member);  // `problem` names the member already
      append_reason(dropped, problem);
    }
    return members > 0 && geometry.members.empty() ? dropped : std::string();
  }

  // Removes `slots` counts from counts[count] and `n` positions from `position` on.
  void erase(Geometry& geometry, std::size_t count, std::size_t slots, std::size_t position, std::size_t n) const {
    const auto counts = geometry.counts.begin() + static_cast<std::ptrdiff_t>(count);
    geometry.counts.erase(counts, counts + static_cast<std::ptrdiff_t>(slots));
    const auto coords = geometry.coords.begin() + static_cast<std::ptrdiff_t>(position * dim_);
    geometry.coords.erase(coords, coords + static_cast<std::ptrdiff_t>(n * dim_));
  }

  std::string located(const std::string& problem) const {
    return problem.empty() || where_.empty() ? problem : where_ + ": " + problem;
  }

  void note(const std::string& repair) { append_reason(repairs_, located(repair)); }

  bool repair_;
  std::string& repairs_;
  std::string where_;
  std::size_t dim_ = 2;
};

}  // namespace

bool needs_geos(const Geometry& geometry) { return !is_point_type(geometry); }

struct GeometryValidator::Geos {
  GEOSContextHandle_t handle = nullptr;
  GEOSWKBWriter* writer = nullptr;
  GEOSMakeValidParams* repair_params = nullptr;
  std::string last_error;
  CancelCheck cancel_requested = nullptr;
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
    throw GeosFailure(what + (last_error.empty() ? "" : ": " + last_error));
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
        for (uint32_t i = 0; i < n; ++i) {
          parts.push_back(own(GEOSGeom_createPoint_r(handle, sequence(geometry, position, 1))));
        }
        return collection(GEOS_MULTIPOINT, parts);
      }
      case GeometryType::MultiLineString: {
        std::vector<Owned> parts;
        const uint32_t n = geometry.counts[count++];
        for (uint32_t i = 0; i < n; ++i) {
          parts.push_back(
              own(GEOSGeom_createLineString_r(handle, sequence(geometry, position, geometry.counts[count++]))));
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

  // Validates with GEOS and, when `repair` is set, repairs with MakeValid;
  // appends the EWKB to store unless the outcome is Invalid. The reason is
  // GEOS's own, e.g. "Self-intersection[0.5 0.5]".
  Validation check(const Geometry& geometry, bool repair, int32_t srid, std::vector<uint8_t>& ewkb) {
    last_error.clear();
    Validation result;
    Owned built = build(geometry);
    const char valid = GEOSisValid_r(handle, built.get());
    if (valid == 2) throw_failure("GEOS could not validate the geometry");
    if (valid == 1) {
      append_ewkb(geometry, srid, ewkb);
      return result;
    }
    result.reason = invalid_reason(built.get());
    result.outcome = Validation::Outcome::Invalid;
    if (!repair) return result;
    GEOSGeometry* repaired = repair_geometry(built.get());
    if (repaired == nullptr) throw_failure(result.reason + "; GEOS could not repair it");
    Owned owned(repaired, Deleter{handle});
    if (GEOSisEmpty_r(handle, repaired) == 1) {
      result.reason += "; repairing it left nothing";
      return result;
    }
    append_wkb(repaired, geometry.has_z, srid, ewkb);
    result.outcome = Validation::Outcome::Repaired;
    return result;
  }

  // GEOS 3.11's MakeValid slows down with the square of the number of rings
  // it rebuilds at once (a country with a thousand islands takes minutes). A
  // MultiPolygon is therefore repaired polygon by polygon, only the invalid
  // ones, and its parts are unioned only if they then overlap. Null when
  // GEOS fails.
  GEOSGeometry* repair_geometry(const GEOSGeometry* geometry) {
    if (GEOSGeomTypeId_r(handle, geometry) != GEOS_MULTIPOLYGON) {
      return GEOSMakeValidWithParams_r(handle, geometry, repair_params);
    }
    std::vector<Owned> polygons;
    const int parts = GEOSGetNumGeometries_r(handle, geometry);
    for (int i = 0; i < parts; ++i) {
      const GEOSGeometry* part = GEOSGetGeometryN_r(handle, geometry, i);
      const char valid = GEOSisValid_r(handle, part);
      if (valid == 2) return nullptr;
      if (valid == 1) {
        polygons.push_back(own(GEOSGeom_clone_r(handle, part)));
        continue;
      }
      GEOSGeometry* fixed = GEOSMakeValidWithParams_r(handle, part, repair_params);
      if (fixed == nullptr) return nullptr;
      const Owned owned_fixed(fixed, Deleter{handle});
      const int pieces = GEOSGetNumGeometries_r(handle, fixed);
      for (int j = 0; j < pieces; ++j) {
        const GEOSGeometry* piece = GEOSGetGeometryN_r(handle, fixed, j);
        if (GEOSGeomTypeId_r(handle, piece) == GEOS_POLYGON && GEOSisEmpty_r(handle, piece) == 0) {
          polygons.push_back(own(GEOSGeom_clone_r(handle, piece)));
        }
      }
    }
    Owned collected = collection(GEOS_MULTIPOLYGON, polygons);
    const char valid = GEOSisValid_r(handle, collected.get());
    if (valid == 1) return collected.release();
    if (valid == 2) return nullptr;
    return GEOSUnaryUnion_r(handle, collected.get());
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

GeometryValidator::GeometryValidator(CancelCheck cancel_requested) : geos_(new Geos) {
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
  if (!needs_geos(geometry)) {
    append_ewkb(geometry, srid, ewkb);
  } else {
    Validation checked;
    try {
      checked = geos_->check(geometry, policy == InvalidPolicy::Repair, srid, ewkb);
    } catch (const GeosFailure& failure) {
      checked.outcome = Validation::Outcome::Invalid;
      checked.reason = failure.what();
    }
    if (checked.outcome == Validation::Outcome::Invalid) return checked;
    if (checked.outcome == Validation::Outcome::Repaired) append_reason(repairs, checked.reason);
  }
  if (!repairs.empty()) {
    result.outcome = Validation::Outcome::Repaired;
    result.reason = repairs;
  }
  return result;
}

}  // namespace geo_import::core
