// Cooperative cancellation. The core cannot see the database's interrupts;
// the database side passes a check that long loops (and GEOS) poll.
#pragma once

#include <stdexcept>

namespace geo_import::core {

// True when the work should stop; null means never.
using CancelCheck = bool (*)();

// Thrown when a loop or GEOS stopped because the cancel check asked it to.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace geo_import::core
