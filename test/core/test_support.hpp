// Helpers shared by the core unit tests.
#pragma once

#include <string>

#include "core/geojson_reader.hpp"

namespace geo_import::core::testing {

// A document with the read padding the reader requires.
class PaddedDocument {
 public:
  explicit PaddedDocument(const std::string& json) : buffer_(json) {
    length_ = json.size();
    buffer_.append(kReadPadding, ' ');
  }
  const char* data() const { return buffer_.data(); }
  std::size_t size() const { return length_; }

 private:
  std::string buffer_;
  std::size_t length_;
};

}  // namespace geo_import::core::testing
