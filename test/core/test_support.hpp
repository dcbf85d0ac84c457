// Helpers shared by the core unit tests.
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "core/geojson_reader.hpp"

namespace geo_import::core::testing {

// A document in a heap block of exactly its size, so that AddressSanitizer
// catches any read past its end.
class ExactDocument {
 public:
  explicit ExactDocument(const std::string& json) : bytes_(new char[json.size()]), size_(json.size()) {
    std::memcpy(bytes_.get(), json.data(), json.size());
  }
  const char* data() const { return bytes_.get(); }
  std::size_t size() const { return size_; }

 private:
  std::unique_ptr<char[]> bytes_;
  std::size_t size_;
};

}  // namespace geo_import::core::testing
