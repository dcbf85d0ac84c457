// A JSON syntax check with byte offsets, for GeoJSON text that reached us
// inside a JSON string (a file read as text) and so was never checked by
// PostgreSQL's json input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/cancel.hpp"

namespace geo_import::core {

struct SyntaxError {
  std::size_t byte_offset;
  std::string message;
};

// The first syntax error in the text, or nullopt when it is one JSON value.
// Polls `cancel_requested` every megabyte (and throws Interrupted).
std::optional<SyntaxError> find_json_syntax_error(const char* data, std::size_t length,
                                                  CancelCheck cancel_requested = nullptr);

// Unescapes the JSON string whose opening quote is at data[begin], appending
// its text to `out` (\u escapes as UTF-8, \u0000 as a NUL byte); returns
// the offset just past its closing quote, or nullopt when it is not a
// well-formed string. Polls `cancel_requested` every megabyte.
std::optional<std::size_t> unescape_json_string(const char* data, std::size_t length, std::size_t begin,
                                                std::string& out, CancelCheck cancel_requested = nullptr);

// The code unit of the \uXXXX escape whose backslash is at data[pos], or -1.
long json_escaped_code_unit(const char* data, std::size_t length, std::size_t pos);

// The byte at data[pos] for a message that must stay valid UTF-8: "character
// 'x'" for a printable one (the whole sequence of a well-formed UTF-8
// character), else "byte 0xNN".
std::string describe_character(const char* data, std::size_t length, std::size_t pos);

}  // namespace geo_import::core
