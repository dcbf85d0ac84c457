// Validates a feature's geometry with GEOS and, when asked, repairs it.
#pragma once

#include <csignal>
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

// One GEOS context (reentrant API), for one import. It may validate on
// another thread than the one that creates and destroys it, one thread at a
// time.
class GeometryValidator {
 public:
  // `cancel_requested`, if given, is polled by GEOS during long operations:
  // the constructor installs GEOS's interrupt callback, which is process-wide
  // in GEOS 3.11, and the destructor restores the previous one. Create and
  // destroy a validator while no other thread runs GEOS.
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
