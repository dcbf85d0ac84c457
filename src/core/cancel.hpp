// Cooperative cancellation. The core cannot see the database's interrupts;
// the database side passes a check that long loops (and GEOS) poll.
#pragma once

#include <cstddef>
#include <stdexcept>

namespace geo_import::core {

// True when the work should stop; null means never. A plain function (the
// database side's look at its interrupt flags) converts to it; a function
// with a context serves a check that carries state, such as the import
// pipeline's own stop request. The pipeline polls it from its producer
// thread too.
class CancelCheck {
 public:
  constexpr CancelCheck(std::nullptr_t = nullptr) {}
  constexpr CancelCheck(bool (*check)()) : check_(check) {}
  constexpr CancelCheck(bool (*check)(const void* context), const void* context)
      : check_with_context_(check), context_(context) {}

  bool operator()() const { return check_with_context_ != nullptr ? check_with_context_(context_) : check_(); }

  friend bool operator==(const CancelCheck& check, std::nullptr_t) {
    return check.check_ == nullptr && check.check_with_context_ == nullptr;
  }
  friend bool operator!=(const CancelCheck& check, std::nullptr_t) { return !(check == nullptr); }

 private:
  bool (*check_)() = nullptr;
  bool (*check_with_context_)(const void* context) = nullptr;
  const void* context_ = nullptr;
};

// Long scans over a document poll the cancel check every this many bytes.
constexpr std::size_t kCancelCheckBytes = 1 << 20;

// Thrown when a loop or GEOS stopped because the cancel check asked it to.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

}  // namespace geo_import::core
