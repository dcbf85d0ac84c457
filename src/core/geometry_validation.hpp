// Validates a feature's geometry with GEOS and, when asked, repairs it.
#pragma once

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cancel.hpp"
#include "core/geometry.hpp"

namespace geo_import::core {

enum class InvalidPolicy { Repair, Skip, Fail };

struct Validation {
  enum class Outcome { Valid, Repaired, Invalid };
  Outcome outcome = Outcome::Valid;
  std::string reason;  // why it was repaired or is invalid, with where
};

// Whether validating `geometry` takes GEOS: points and multipoints read
// from JSON are finite, hence valid, and never do.
bool needs_geos(const Geometry& geometry);

// Whether `geometry` is a Polygon (or a MultiPolygon of one Polygon) of one
// ring, of at most kMaxCertainRingSegments segments and coordinates within
// ±kMaxCertainCoordinate, that is simple beyond doubt: closed, every turn a
// clear left or right (no position repeated next to itself, no three in a
// row on a line), and no two edges that are not neighbours meeting, every
// orientation sign decided only where rounding cannot have flipped it.
// GEOS's predicates are exact in that range, so GEOS finds such a polygon
// valid too and need not be asked; whatever this cannot decide goes to
// GEOS. Most features of a parcel or building file are such polygons.
bool is_certainly_simple_polygon(const Geometry& geometry);
inline constexpr std::size_t kMaxCertainRingSegments = 32;
// Near 1e300 GEOS's double-double orientation overflows and calls a
// clear turn straight (then a simple ring self-intersecting); within this
// neither its arithmetic nor ours leaves the range of doubles.
inline constexpr double kMaxCertainCoordinate = 1e100;

// While one lives, GEOS polls `cancel_requested` during long operations and
// stops there (the validator's call throws Interrupted). GEOS 3.11 has one
// interrupt callback per process, for every thread that runs it: at most
// one hook at a time; create and destroy it while no other thread runs GEOS.
// The destructor restores the callback that was there before.
class GeosCancelHook {
 public:
  explicit GeosCancelHook(CancelCheck cancel_requested);
  ~GeosCancelHook();
  GeosCancelHook(const GeosCancelHook&) = delete;
  GeosCancelHook& operator=(const GeosCancelHook&) = delete;

 private:
  void (*previous_callback_)();
};

// One GEOS context (reentrant API). It may validate on another thread than
// the one that creates and destroys it, one thread at a time; validators on
// different threads run side by side.
class GeometryValidator {
 public:
  // `cancel_requested`, if given, is polled between the steps the validator
  // takes itself (the rings of a large polygon); GEOS polls only the check
  // of a GeosCancelHook.
  explicit GeometryValidator(CancelCheck cancel_requested = nullptr);
  ~GeometryValidator();
  GeometryValidator(const GeometryValidator&) = delete;
  GeometryValidator& operator=(const GeometryValidator&) = delete;

  // Checks `geometry` (closing open rings first when repairing) and appends
  // the EWKB of what is to be stored to `ewkb`, unless the outcome is Invalid.
  Validation validate(Geometry& geometry, InvalidPolicy policy, int32_t srid, std::vector<uint8_t>& ewkb);

 private:
  struct Geos;
  Geos* geos_;
};

}  // namespace geo_import::core
