// A JSON syntax check with byte offsets, for GeoJSON text that reached us
// inside a JSON string (a file read as text) and so was never checked by
// PostgreSQL's json input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace geo_import::core {

struct SyntaxError {
  std::size_t byte_offset;
  std::string message;
};

// The first syntax error in the text, or nullopt when it is one JSON value.
std::optional<SyntaxError> find_json_syntax_error(const char* data, std::size_t length);

}  // namespace geo_import::core
