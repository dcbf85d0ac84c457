#include "core/geometry_validation.hpp"

#include <geos_c.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

namespace geo_import::core {

namespace {

// What GEOS's one interrupt callback polls: the check of the GeosCancelHook
// that lives.
CancelCheck g_cancel_requested = nullptr;

// How many holes a polygon's repair goes through between cancel checks.
constexpr int kRingsPerCancelCheck = 1024;

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

namespace {

// Shewchuk's bound on the rounding error of the orientation determinant
// computed in doubles ("Adaptive Precision Floating-Point Arithmetic",
// ccwerrboundA): a determinant larger than this times the sum of its two
// products' magnitudes has the exact determinant's sign.
constexpr double kOrientationErrorBound = (3.0 + 16.0 * 0x1p-53) * 0x1p-53;

// The turn a -> b -> c: 1 left, -1 right, 0 when the doubles cannot tell
// it for certain (on a line, nearly so, or out of the range where the
// bound holds: products that may have underflowed or overflowed, NaN).
int certain_turn(const double* a, const double* b, const double* c) {
  const double left = (a[0] - c[0]) * (b[1] - c[1]);
  const double right = (a[1] - c[1]) * (b[0] - c[0]);
  const double magnitude = std::fabs(left) + std::fabs(right);
  if (!(magnitude > 1e-280 && magnitude < 1e280)) return 0;
  const double determinant = left - right;
  const double bound = kOrientationErrorBound * magnitude;
  if (determinant > bound) return 1;
  if (determinant < -bound) return -1;
  return 0;
}

// Whether the segments pq and rs certainly share no point: their boxes
// are apart, or one lies strictly on one side of the other's line.
bool certainly_apart(const double* p, const double* q, const double* r, const double* s) {
  if (std::max(p[0], q[0]) < std::min(r[0], s[0]) || std::max(r[0], s[0]) < std::min(p[0], q[0]) ||
      std::max(p[1], q[1]) < std::min(r[1], s[1]) || std::max(r[1], s[1]) < std::min(p[1], q[1])) {
    return true;
  }
  const int r_side = certain_turn(p, q, r);
  if (r_side != 0 && r_side == certain_turn(p, q, s)) return true;
  const int p_side = certain_turn(r, s, p);
  return p_side != 0 && p_side == certain_turn(r, s, q);
}

}  // namespace

bool is_certainly_simple_polygon(const Geometry& geometry) {
  const std::vector<uint32_t>& counts = geometry.counts;
  const bool one_ring =
      (geometry.type == GeometryType::Polygon && counts.size() == 2 && counts[0] == 1) ||
      (geometry.type == GeometryType::MultiPolygon && counts.size() == 3 && counts[0] == 1 && counts[1] == 1);
  if (!one_ring) return false;
  const std::size_t positions = counts.back();
  if (positions < 4 || positions - 1 > kMaxCertainRingSegments) return false;
  const std::size_t dim = geometry.dimension();
  const double* first = geometry.coords.data();
  const double* last = first + (positions - 1) * dim;
  if (first[0] != last[0] || first[1] != last[1]) return false;
  // Vertex i of the ring, i taken round it: the closing position is vertex 0.
  const std::size_t segments = positions - 1;
  const auto vertex = [&](std::size_t i) { return first + (i % segments) * dim; };
  for (std::size_t i = 0; i < segments; ++i) {
    const double* v = vertex(i);
    if (!(std::fabs(v[0]) <= kMaxCertainCoordinate && std::fabs(v[1]) <= kMaxCertainCoordinate)) return false;
  }
  // Neighbouring edges meet only at their shared vertex when it is a turn.
  for (std::size_t i = 0; i < segments; ++i) {
    if (certain_turn(vertex(i), vertex(i + 1), vertex(i + 2)) == 0) return false;
  }
  for (std::size_t i = 0; i + 2 < segments; ++i) {
    // Edge i runs from vertex i to i + 1; the last edge neighbours edge 0.
    for (std::size_t j = i + 2; j < segments - (i == 0 ? 1 : 0); ++j) {
      if (!certainly_apart(vertex(i), vertex(i + 1), vertex(j), vertex(j + 1))) return false;
    }
  }
  return true;
}

struct GeometryValidator::Geos {
  GEOSContextHandle_t handle = nullptr;
  GEOSWKBWriter* writer = nullptr;
  GEOSMakeValidParams* repair_params = nullptr;
  std::string last_error;
  CancelCheck cancel_requested = nullptr;

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
    Owned shell = own(GEOSGeom_createLinearRing_r(handle, sequence(geometry, position, geometry.counts[count++])));
    std::vector<Owned> holes;
    for (uint32_t r = 1; r < rings; ++r) {
      holes.push_back(own(GEOSGeom_createLinearRing_r(handle, sequence(geometry, position, geometry.counts[count++]))));
    }
    return polygon_of(std::move(shell), holes);
  }

  // GEOS's constructors of polygons and collections own their parts from
  // the call on, also when they fail (GEOS ticket 1111): hand them over
  // before it.
  Owned collection(int type, std::vector<Owned>& parts) {
    std::vector<GEOSGeometry*> raw;
    for (Owned& part : parts) raw.push_back(part.release());
    parts.clear();
    return own(GEOSGeom_createCollection_r(handle, type, raw.data(), static_cast<unsigned>(raw.size())));
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
    Verdict verdict = judge(built.get(), true);
    if (verdict.valid) {
      append_ewkb(geometry, srid, ewkb);
      return result;
    }
    result.reason = std::move(verdict.reason);
    result.outcome = Validation::Outcome::Invalid;
    if (!repair) return result;
    GEOSGeometry* repaired = nullptr;
    try {
      repaired = repair_geometry(built.get());
    } catch (const GeosFailure&) {
      // said below, with GEOS's own message
    }
    if (repaired == nullptr) throw_failure(result.reason + "; GEOS could not repair it");
    Owned owned(repaired, Deleter{handle});
    if (GEOSisEmpty_r(handle, repaired) == 1) {
      result.reason += "; repairing it left nothing";
      return result;
    }
    // GEOS's arithmetic can overflow and leave a repair invalid. With many
    // rings, as far as the indexed tests decide (GEOS whole takes hours).
    const std::optional<Verdict> after = judge_bounded(repaired);
    if (after && !after->valid) {
      throw_failure(result.reason + "; GEOS could not repair it (what it made: " + after->reason + ")");
    }
    append_wkb(repaired, geometry.has_z, srid, ewkb);
    result.outcome = Validation::Outcome::Repaired;
    return result;
  }

  struct Verdict {
    bool valid = true;
    std::string reason;  // with `with_reason`, why not valid
  };

  Verdict judge(const GEOSGeometry* geometry, bool with_reason) {
    if (has_many_rings(geometry)) {
      if (std::optional<Verdict> quick = judge_many_rings(geometry)) return *quick;
    }
    return judge_whole(geometry, with_reason);
  }

  // GEOS on the whole geometry.
  Verdict judge_whole(const GEOSGeometry* geometry, bool with_reason) {
    const char valid = GEOSisValid_r(handle, geometry);
    if (valid == 2) throw_failure("GEOS could not validate the geometry");
    if (valid == 1) return {};
    return {false, with_reason ? invalid_reason(geometry) : std::string()};
  }

  // GEOS 3.11 checks and repairs a polygon's holes in time proportional to
  // holes times shell vertices (IsValidOp's hole-in-shell and nested-shell
  // tests, OverlayNG's hole placement): a country with 18,000 lakes takes
  // seconds, one with 140,000 hours. Geometries with many rings are checked
  // and repaired ring by ring instead, with indexed (prepared) tests; what
  // those cannot decide, such as rings that touch, goes to GEOS whole.
  static constexpr int kManyRings = 64;

  bool has_many_rings(const GEOSGeometry* geometry) {
    const int type = GEOSGeomTypeId_r(handle, geometry);
    if (type == GEOS_POLYGON) return GEOSGetNumInteriorRings_r(handle, geometry) >= kManyRings;
    if (type != GEOS_MULTIPOLYGON) return false;
    const int parts = GEOSGetNumGeometries_r(handle, geometry);
    if (parts >= kManyRings) return true;
    for (int i = 0; i < parts; ++i) {
      if (has_many_rings(GEOSGetGeometryN_r(handle, geometry, i))) return true;
    }
    return false;
  }

  // For a geometry with many rings: nothing when GEOS has to decide; never
  // GEOS whole on many rings.
  std::optional<Verdict> judge_many_rings(const GEOSGeometry* geometry) {
    if (GEOSGeomTypeId_r(handle, geometry) == GEOS_POLYGON) return judge_polygon(geometry);
    // A MultiPolygon whose polygons are valid and meet nowhere is valid.
    std::vector<const GEOSGeometry*> parts;
    bool undecided = false;
    const int count = GEOSGetNumGeometries_r(handle, geometry);
    for (int i = 0; i < count; ++i) {
      poll_cancel_every(i);
      parts.push_back(GEOSGetGeometryN_r(handle, geometry, i));
      const std::optional<Verdict> verdict = judge_bounded(parts.back());
      if (!verdict) {
        undecided = true;  // but a later part may still be invalid
      } else if (!verdict->valid) {
        return verdict;
      }
    }
    if (undecided || any_meets(parts)) return std::nullopt;
    return Verdict{};
  }

  // As judge, but GEOS whole only on few rings: nothing when the indexed
  // tests cannot decide.
  std::optional<Verdict> judge_bounded(const GEOSGeometry* geometry) {
    if (has_many_rings(geometry)) return judge_many_rings(geometry);
    return judge_whole(geometry, true);
  }

  // A polygon whose rings are each valid, whose holes lie strictly inside
  // its shell and meet no other hole, is valid; a hole apart from the shell,
  // or a ring that is not valid alone, makes it invalid.
  std::optional<Verdict> judge_polygon(const GEOSGeometry* polygon) {
    const Owned shell = ring_polygon(GEOSGetExteriorRing_r(handle, polygon));
    Verdict verdict = judge_whole(shell.get(), true);
    if (!verdict.valid) return verdict;
    const PreparedOwned prepared_shell = prepare(shell.get());
    std::vector<Owned> holes;
    const int count = GEOSGetNumInteriorRings_r(handle, polygon);
    for (int h = 0; h < count; ++h) {
      poll_cancel_every(h);
      holes.push_back(ring_polygon(GEOSGetInteriorRingN_r(handle, polygon, h)));
      verdict = judge_whole(holes.back().get(), true);
      if (!verdict.valid) return verdict;
      if (contains_properly(prepared_shell.get(), holes.back().get())) continue;
      if (intersects(prepared_shell.get(), holes.back().get())) return std::nullopt;
      return Verdict{false, "Hole lies outside shell" + first_point(holes.back().get())};
    }
    if (any_meets(raw(holes))) return std::nullopt;
    return Verdict{};
  }

  // GEOS 3.11's MakeValid slows down with the square of the number of rings
  // it rebuilds at once (a country with a thousand islands takes minutes). A
  // MultiPolygon is therefore repaired polygon by polygon, only the invalid
  // ones, and only the parts that then meet are unioned. Null when GEOS
  // fails.
  GEOSGeometry* repair_geometry(const GEOSGeometry* geometry) {
    const int type = GEOSGeomTypeId_r(handle, geometry);
    if (type == GEOS_POLYGON) return repair_polygon(geometry);
    if (type != GEOS_MULTIPOLYGON) return repair_whole(geometry);
    std::vector<Owned> polygons;
    const int parts = GEOSGetNumGeometries_r(handle, geometry);
    for (int i = 0; i < parts; ++i) {
      poll_cancel_every(i);
      const GEOSGeometry* part = GEOSGetGeometryN_r(handle, geometry, i);
      if (GEOSisEmpty_r(handle, part) == 1) continue;  // as GEOS's repair drops it
      // Undecided: repairing a valid polygon leaves it the same.
      const std::optional<Verdict> verdict = judge_bounded(part);
      if (verdict && verdict->valid) {
        polygons.push_back(own(GEOSGeom_clone_r(handle, part)));
        continue;
      }
      GEOSGeometry* fixed = repair_polygon(part);
      if (fixed == nullptr) return nullptr;
      const Owned owned_fixed(fixed, Deleter{handle});
      append_polygons(fixed, polygons);
    }
    const std::vector<bool> meets = meets_another(raw(polygons));
    if (std::find(meets.begin(), meets.end(), true) == meets.end())
      return collection(GEOS_MULTIPOLYGON, polygons).release();
    if (has_many_rings(geometry)) return union_meeting(polygons, meets);
    Owned collected = collection(GEOS_MULTIPOLYGON, polygons);
    const char valid = GEOSisValid_r(handle, collected.get());
    if (valid == 1) return collected.release();
    if (valid == 2) return nullptr;
    return GEOSUnaryUnion_r(handle, collected.get());
  }

  // The union of valid polygons, `meets` telling which meet another. Only
  // those are unioned, and a polygon with many holes first has the holes
  // that meet no other of those polygons filled in (unless they touch its
  // shell, or a hole that does or that meets another polygon): they go back, as holes, into the
  // union's polygon that covers them, so that GEOS's union has few holes to
  // place. (Filling a hole no other polygon meets changes nothing another
  // polygon's holes meet.) Null when GEOS fails.
  GEOSGeometry* union_meeting(std::vector<Owned>& polygons, const std::vector<bool>& meets) {
    std::vector<Owned> result;
    std::vector<Owned> meeting;
    std::vector<Envelope> envelopes;
    for (std::size_t p = 0; p < polygons.size(); ++p) {
      if (!meets[p]) {
        result.push_back(std::move(polygons[p]));
        continue;
      }
      envelopes.push_back(envelope(polygons[p].get()));
      meeting.push_back(std::move(polygons[p]));
    }
    std::vector<Owned> set_aside;
    std::vector<PreparedOwned> prepared(meeting.size());
    for (std::size_t p = 0; p < meeting.size(); ++p) {
      const int count = GEOSGetNumInteriorRings_r(handle, meeting[p].get());
      if (count < kManyRings) continue;
      // Holes that touch go or stay together (the union re-nodes the edges
      // it keeps, and a hole set aside would no longer meet them exactly),
      // and those that touch the shell stay.
      const Owned shell = ring_polygon(GEOSGetExteriorRing_r(handle, meeting[p].get()));
      const PreparedOwned prepared_shell = prepare(shell.get());
      std::vector<Owned> holes;
      for (int h = 0; h < count; ++h) {
        holes.push_back(ring_polygon(GEOSGetInteriorRingN_r(handle, meeting[p].get(), h)));
      }
      std::vector<std::size_t> group(holes.size());
      for (std::size_t h = 0; h < group.size(); ++h) group[h] = h;
      const auto root = [&group](std::size_t h) {
        while (group[h] != h) h = group[h] = group[group[h]];
        return h;
      };
      for (const auto& [a, b] : meeting_pairs(raw(holes))) group[root(a)] = root(b);
      std::vector<bool> group_stays(holes.size(), false);
      for (std::size_t h = 0; h < holes.size(); ++h) {
        poll_cancel_every(h);
        const Envelope hole_envelope = envelope(holes[h].get());
        bool stays = !contains_properly(prepared_shell.get(), holes[h].get());
        for (std::size_t other = 0; other < meeting.size() && !stays; ++other) {
          if (other == p || !hole_envelope.intersects(envelopes[other])) continue;
          if (prepared[other] == nullptr) prepared[other] = prepare(meeting[other].get());
          stays = polygons_meet(prepared[other].get(), envelopes[other], holes[h].get(), hole_envelope);
        }
        if (stays) group_stays[root(h)] = true;
      }
      std::vector<Owned> near;
      for (std::size_t h = 0; h < holes.size(); ++h) {
        if (group_stays[root(h)]) {
          near.push_back(exterior_ring(holes[h].get()));
        } else {
          set_aside.push_back(std::move(holes[h]));
        }
      }
      prepared[p].reset();
      meeting[p] = polygon_of(exterior_ring(meeting[p].get()), near);
    }
    prepared.clear();
    const Owned meeting_union = own(GEOSUnaryUnion_r(handle, collection(GEOS_MULTIPOLYGON, meeting).get()));
    const Owned with_holes(add_holes(meeting_union.get(), set_aside), Deleter{handle});
    append_polygons(with_holes.get(), result);
    if (result.size() == 1) return result[0].release();
    return collection(GEOS_MULTIPOLYGON, result).release();
  }

  // The structure method's result as GEOS 3.11 makes it: the repaired
  // shell less the repaired holes that meet it, and, as polygons of their
  // own, the repaired holes that do not. With many holes, only those that
  // cross the shell's edge or meet another hole are subtracted by GEOS; the
  // rest, strictly inside the shell and apart from every other hole, become
  // holes of the result as they are, which is the same difference. Null
  // when GEOS fails.
  GEOSGeometry* repair_polygon(const GEOSGeometry* polygon) {
    if (GEOSGetNumInteriorRings_r(handle, polygon) < kManyRings) return repair_whole(polygon);
    Owned region = repair_ring(GEOSGetExteriorRing_r(handle, polygon));
    if (GEOSisEmpty_r(handle, region.get()) == 1) return region.release();
    std::vector<Owned> kept;
    std::vector<Owned> subtracted;
    std::vector<Owned> shells;  // holes apart from the shell
    {
      const PreparedOwned prepared_region = prepare(region.get());
      std::vector<Owned> pieces;
      const int count = GEOSGetNumInteriorRings_r(handle, polygon);
      for (int h = 0; h < count; ++h) {
        poll_cancel_every(h);
        const Owned hole = repair_ring(GEOSGetInteriorRingN_r(handle, polygon, h));
        if (GEOSisEmpty_r(handle, hole.get()) == 1) continue;
        if (!intersects(prepared_region.get(), hole.get())) {
          append_polygons(hole.get(), shells);
          continue;
        }
        pieces.clear();
        append_polygons(hole.get(), pieces);
        for (Owned& piece : pieces) {
          const bool inside = GEOSGetNumInteriorRings_r(handle, piece.get()) == 0 &&
                              contains_properly(prepared_region.get(), piece.get());
          (inside ? kept : subtracted).push_back(std::move(piece));
        }
      }
    }
    std::vector<const GEOSGeometry*> holes = raw(kept);
    const std::size_t kept_count = holes.size();
    for (const Owned& hole : subtracted) holes.push_back(hole.get());
    const std::vector<bool> meets = meets_another(holes);
    std::vector<Owned> holes_kept;
    for (std::size_t k = 0; k < kept_count; ++k) {
      (meets[k] ? subtracted : holes_kept).push_back(std::move(kept[k]));
    }
    if (!subtracted.empty()) {
      const Owned subtracted_union = own(GEOSUnaryUnion_r(handle, collection(GEOS_MULTIPOLYGON, subtracted).get()));
      region = own(GEOSDifference_r(handle, region.get(), subtracted_union.get()));
    }
    Owned result(add_holes(region.get(), holes_kept), Deleter{handle});
    if (shells.empty()) return result.release();
    // The holes turned shells meet nothing of the shell's, but may meet
    // one another.
    if (any_meets(raw(shells))) {
      const Owned shells_union = own(GEOSUnaryUnion_r(handle, collection(GEOS_MULTIPOLYGON, shells).get()));
      shells.clear();
      append_polygons(shells_union.get(), shells);
    }
    std::vector<Owned> polygons;
    append_polygons(result.get(), polygons);
    for (Owned& shell : shells) polygons.push_back(std::move(shell));
    return collection(GEOS_MULTIPOLYGON, polygons).release();
  }

  // `region`'s polygons with `holes` (each covered by one of them, and a
  // valid hole of it: apart from its holes and from one another, touching
  // its edge at points at most) added as holes.
  GEOSGeometry* add_holes(const GEOSGeometry* region, std::vector<Owned>& holes) {
    std::vector<Owned> polygons;
    append_polygons(region, polygons);
    std::vector<Envelope> envelopes;
    std::vector<PreparedOwned> prepared;
    std::vector<std::vector<Owned>> holes_of(polygons.size());
    for (std::size_t p = 0; p < polygons.size(); ++p) {
      envelopes.push_back(envelope(polygons[p].get()));
      prepared.push_back(prepare(polygons[p].get()));
      append_interior_rings(polygons[p].get(), holes_of[p]);
    }
    for (std::size_t h = 0; h < holes.size(); ++h) {
      poll_cancel_every(h);
      // A point inside the hole lies inside the one polygon that covers it.
      const Envelope hole = envelope(holes[h].get());
      const Owned inside = own(GEOSPointOnSurface_r(handle, holes[h].get()));
      std::size_t owner = 0;
      while (owner < polygons.size() &&
             !(envelopes[owner].contains(hole) && intersects(prepared[owner].get(), inside.get()))) {
        ++owner;
      }
      if (owner == polygons.size()) throw_failure("a repaired hole lies in no repaired polygon");
      holes_of[owner].push_back(exterior_ring(holes[h].get()));
    }
    prepared.clear();
    std::vector<Owned> rebuilt;
    for (std::size_t p = 0; p < polygons.size(); ++p) {
      rebuilt.push_back(polygon_of(exterior_ring(polygons[p].get()), holes_of[p]));
    }
    if (rebuilt.size() == 1) return rebuilt[0].release();
    return collection(GEOS_MULTIPOLYGON, rebuilt).release();
  }

  GEOSGeometry* repair_whole(const GEOSGeometry* geometry) {
    return GEOSMakeValidWithParams_r(handle, geometry, repair_params);
  }

  // What the structure method makes of one ring: a polygon, several, or
  // nothing when it collapses.
  Owned repair_ring(const GEOSGeometry* ring) {
    Owned alone = ring_polygon(ring);
    if (judge_whole(alone.get(), false).valid) return alone;
    return own(repair_whole(alone.get()));
  }

  // Whether any two of `geometries` intersect (touching included).
  bool any_meets(const std::vector<const GEOSGeometry*>& geometries) {
    const std::vector<bool> meets = meets_another(geometries);
    return std::find(meets.begin(), meets.end(), true) != meets.end();
  }

  // Which of `geometries` intersect another (touching included).
  std::vector<bool> meets_another(const std::vector<const GEOSGeometry*>& geometries) {
    std::vector<bool> meets(geometries.size(), false);
    for (const auto& [a, b] : meeting_pairs(geometries)) meets[a] = meets[b] = true;
    return meets;
  }

  // The pairs of `geometries` that intersect (touching included), as
  // indexes: a sweep over their envelopes, then GEOS on each pair whose
  // envelopes overlap, the one with more vertices prepared.
  std::vector<std::pair<std::size_t, std::size_t>> meeting_pairs(const std::vector<const GEOSGeometry*>& geometries) {
    const std::size_t n = geometries.size();
    std::vector<Envelope> envelopes(n);
    std::vector<int> vertices(n);
    std::vector<std::size_t> order;  // the non-empty ones: an empty geometry meets nothing
    for (std::size_t i = 0; i < n; ++i) {
      if (GEOSisEmpty_r(handle, geometries[i]) == 1) continue;
      envelopes[i] = envelope(geometries[i]);
      vertices[i] = GEOSGetNumCoordinates_r(handle, geometries[i]);
      order.push_back(i);
    }
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return envelopes[a].min_x < envelopes[b].min_x; });
    std::vector<PreparedOwned> prepared(n);
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    std::size_t tested = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const std::size_t a = order[i];
      for (std::size_t j = i + 1; j < order.size() && envelopes[order[j]].min_x <= envelopes[a].max_x; ++j) {
        const std::size_t b = order[j];
        if (!envelopes[a].intersects(envelopes[b])) continue;
        poll_cancel_every(tested++);
        const std::size_t big = vertices[a] >= vertices[b] ? a : b;
        const std::size_t small = big == a ? b : a;
        if (prepared[big] == nullptr) prepared[big] = prepare(geometries[big]);
        if (polygons_meet(prepared[big].get(), envelopes[big], geometries[small], envelopes[small])) {
          pairs.emplace_back(a, b);
        }
      }
    }
    return pairs;
  }

  struct Envelope {
    double min_x, min_y, max_x, max_y;
    bool intersects(const Envelope& other) const {
      return min_x <= other.max_x && other.min_x <= max_x && min_y <= other.max_y && other.min_y <= max_y;
    }
    bool contains(const Envelope& other) const {
      return min_x <= other.min_x && other.max_x <= max_x && min_y <= other.min_y && other.max_y <= max_y;
    }
  };

  Envelope envelope(const GEOSGeometry* geometry) {
    Envelope e{};
    if (GEOSGeom_getXMin_r(handle, geometry, &e.min_x) == 0 || GEOSGeom_getYMin_r(handle, geometry, &e.min_y) == 0 ||
        GEOSGeom_getXMax_r(handle, geometry, &e.max_x) == 0 || GEOSGeom_getYMax_r(handle, geometry, &e.max_y) == 0) {
      throw_failure("GEOS could not measure the geometry");
    }
    return e;
  }

  // Whether polygons `big` (prepared) and `small` intersect. GEOS 3.11's
  // prepared test also looks for a point of every ring of `big` inside
  // `small`, a cost in big's rings for each small; `big` can only lie inside
  // `small` if small's envelope holds big's, and otherwise meeting small's
  // rings is meeting small.
  bool polygons_meet(const GEOSPreparedGeometry* big, const Envelope& big_envelope, const GEOSGeometry* small,
                     const Envelope& small_envelope) {
    if (small_envelope.contains(big_envelope)) return intersects(big, small);
    const Owned rings = own(GEOSBoundary_r(handle, small));
    return intersects(big, rings.get());
  }

  struct PreparedDeleter {
    GEOSContextHandle_t handle;
    void operator()(const GEOSPreparedGeometry* prepared) const { GEOSPreparedGeom_destroy_r(handle, prepared); }
  };
  using PreparedOwned = std::unique_ptr<const GEOSPreparedGeometry, PreparedDeleter>;

  PreparedOwned prepare(const GEOSGeometry* geometry) {
    const GEOSPreparedGeometry* prepared = GEOSPrepare_r(handle, geometry);
    if (prepared == nullptr) throw_failure("GEOS could not index the geometry");
    return PreparedOwned(prepared, PreparedDeleter{handle});
  }

  bool intersects(const GEOSPreparedGeometry* prepared, const GEOSGeometry* geometry) {
    const char result = GEOSPreparedIntersects_r(handle, prepared, geometry);
    if (result == 2) throw_failure("GEOS could not intersect the geometries");
    return result == 1;
  }

  bool contains_properly(const GEOSPreparedGeometry* prepared, const GEOSGeometry* geometry) {
    const char result = GEOSPreparedContainsProperly_r(handle, prepared, geometry);
    if (result == 2) throw_failure("GEOS could not compare the geometries");
    return result == 1;
  }

  void poll_cancel_every(std::size_t step) {
    if (step % kRingsPerCancelCheck == 0 && cancel_requested != nullptr && cancel_requested()) throw Interrupted();
  }

  // GEOS's way of saying where, e.g. "[0.5 0.5]".
  std::string first_point(const GEOSGeometry* polygon) {
    const GEOSCoordSequence* points = GEOSGeom_getCoordSeq_r(handle, GEOSGetExteriorRing_r(handle, polygon));
    double x = 0;
    double y = 0;
    if (points == nullptr || GEOSCoordSeq_getXY_r(handle, points, 0, &x, &y) == 0) return {};
    return "[" + shortest(x) + " " + shortest(y) + "]";
  }

  static std::vector<const GEOSGeometry*> raw(const std::vector<Owned>& geometries) {
    std::vector<const GEOSGeometry*> pointers;
    for (const Owned& geometry : geometries) pointers.push_back(geometry.get());
    return pointers;
  }

  // Appends the non-empty polygons of a Polygon, MultiPolygon or collection.
  void append_polygons(const GEOSGeometry* geometry, std::vector<Owned>& polygons) {
    const int pieces = GEOSGetNumGeometries_r(handle, geometry);
    for (int j = 0; j < pieces; ++j) {
      const GEOSGeometry* piece = GEOSGetGeometryN_r(handle, geometry, j);
      if (GEOSGeomTypeId_r(handle, piece) == GEOS_POLYGON && GEOSisEmpty_r(handle, piece) == 0) {
        polygons.push_back(own(GEOSGeom_clone_r(handle, piece)));
      }
    }
  }

  void append_interior_rings(const GEOSGeometry* polygon, std::vector<Owned>& rings) {
    const int count = GEOSGetNumInteriorRings_r(handle, polygon);
    for (int r = 0; r < count; ++r) {
      rings.push_back(own(GEOSGeom_clone_r(handle, GEOSGetInteriorRingN_r(handle, polygon, r))));
    }
  }

  Owned exterior_ring(const GEOSGeometry* polygon) {
    return own(GEOSGeom_clone_r(handle, GEOSGetExteriorRing_r(handle, polygon)));
  }

  // A polygon with `ring` as its shell and no holes.
  Owned ring_polygon(const GEOSGeometry* ring) {
    if (ring == nullptr) throw_failure("GEOS could not read the ring");
    std::vector<Owned> no_holes;
    return polygon_of(own(GEOSGeom_clone_r(handle, ring)), no_holes);
  }

  Owned polygon_of(Owned shell, std::vector<Owned>& holes) {
    std::vector<GEOSGeometry*> pointers;
    for (Owned& hole : holes) pointers.push_back(hole.release());
    holes.clear();
    return own(
        GEOSGeom_createPolygon_r(handle, shell.release(), pointers.data(), static_cast<unsigned>(pointers.size())));
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

GeosCancelHook::GeosCancelHook(CancelCheck cancel_requested) {
  g_cancel_requested = cancel_requested;
  previous_callback_ = GEOS_interruptRegisterCallback(cancel_requested != nullptr ? poll_cancel : nullptr);
}

GeosCancelHook::~GeosCancelHook() {
  GEOS_interruptRegisterCallback(previous_callback_);
  g_cancel_requested = nullptr;
}

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
}

GeometryValidator::~GeometryValidator() {
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
  if (!needs_geos(geometry) || is_certainly_simple_polygon(geometry)) {
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
