#include "core/json_syntax.hpp"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace geo_import::core {

namespace {

constexpr std::size_t kMaxDepth = 10000;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Calls the cancel check once every kCancelCheckBytes of progress.
class CancelPoller {
 public:
  CancelPoller(CancelCheck cancel_requested, std::size_t from)
      : cancel_requested_(cancel_requested), next_(from + kCancelCheckBytes) {}
  void at(std::size_t pos) {
    if (pos < next_) return;
    next_ = pos + kCancelCheckBytes;
    if (cancel_requested_ != nullptr && cancel_requested_()) throw Interrupted();
  }

 private:
  CancelCheck cancel_requested_;
  std::size_t next_;
};

class SyntaxChecker {
 public:
  SyntaxChecker(const char* data, std::size_t length, CancelCheck cancel_requested)
      : data_(data), length_(length), poller_(cancel_requested, 0) {}

  std::optional<SyntaxError> run() {
    skip_space();
    if (!value()) return error_;
    skip_space();
    if (pos_ != length_) return SyntaxError{pos_, "unexpected data after the JSON value"};
    return std::nullopt;
  }

 private:
  // Containers are walked with an explicit stack, so depth costs no C stack.
  bool value() {
    std::vector<char> open;  // '{' or '['
    while (true) {
      poller_.at(pos_);
      if (pos_ >= length_) return fail("the document ends where a value should start");
      const char c = data_[pos_];
      if (c == '{' || c == '[') {
        if (open.size() == kMaxDepth) return fail("nesting deeper than 10000 levels");
        open.push_back(c);
        ++pos_;
        skip_space();
        if (at(c == '{' ? '}' : ']')) {
          ++pos_;
          open.pop_back();
        } else if (c == '{') {
          if (!member_name()) return false;
          continue;
        } else {
          continue;
        }
      } else if (!scalar()) {
        return false;
      }
      // After a value: close containers or move to the next element.
      while (true) {
        if (open.empty()) return true;
        skip_space();
        const char close = open.back() == '{' ? '}' : ']';
        if (at(close)) {
          ++pos_;
          open.pop_back();
          continue;
        }
        if (!at(',')) {
          return fail(pos_ >= length_
                          ? std::string("the document ends inside an ") + (close == '}' ? "object" : "array")
                          : std::string("expected ',' or '") + close + "'");
        }
        ++pos_;
        skip_space();
        if (open.back() == '{' && !member_name()) return false;
        break;
      }
    }
  }

  bool member_name() {
    if (!at('"')) return fail("expected a member name in double quotes");
    if (!string()) return false;
    skip_space();
    if (!at(':')) return fail("expected ':' after a member name");
    ++pos_;
    skip_space();
    return true;
  }

  bool scalar() {
    const char c = data_[pos_];
    if (c == '"') return string();
    if (c == '-' || (c >= '0' && c <= '9')) return number();
    if (literal("true") || literal("false") || literal("null")) return true;
    return fail("unexpected " + describe_character(data_, length_, pos_));
  }

  bool literal(const char* word) {
    std::size_t n = 0;
    while (word[n] != '\0') ++n;
    if (length_ - pos_ < n) return false;
    for (std::size_t i = 0; i < n; ++i) {
      if (data_[pos_ + i] != word[i]) return false;
    }
    pos_ += n;
    return true;
  }

  bool string() {
    const std::size_t start = pos_++;
    while (pos_ < length_) {
      poller_.at(pos_);
      const auto c = static_cast<unsigned char>(data_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return fail("a control character inside a string");
      if (c == '\\') {
        if (++pos_ >= length_) break;
        const char e = data_[pos_];
        if (e == 'u') {
          for (int i = 1; i <= 4; ++i) {
            if (pos_ + i >= length_ || hex_value(data_[pos_ + i]) < 0) return fail("a bad \\u escape");
          }
          pos_ += 4;
        } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
          return fail("a bad escape in a string");
        }
      }
      ++pos_;
    }
    pos_ = start;
    return fail("a string that is never closed");
  }

  bool number() {
    if (at('-')) ++pos_;
    if (at('0')) {
      ++pos_;
    } else if (!digits()) {
      return fail("a malformed number");
    }
    if (at('.')) {
      ++pos_;
      if (!digits()) return fail("a malformed number");
    }
    if (at('e') || at('E')) {
      ++pos_;
      if (at('+') || at('-')) ++pos_;
      if (!digits()) return fail("a malformed number");
    }
    return true;
  }

  bool digits() {
    const std::size_t start = pos_;
    while (pos_ < length_ && data_[pos_] >= '0' && data_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool at(char c) const { return pos_ < length_ && data_[pos_] == c; }

  void skip_space() {
    while (pos_ < length_ &&
           (data_[pos_] == ' ' || data_[pos_] == '\n' || data_[pos_] == '\r' || data_[pos_] == '\t')) {
      poller_.at(++pos_);
    }
  }

  bool fail(const std::string& message) {
    error_ = SyntaxError{pos_, message};
    return false;
  }

  const char* data_;
  std::size_t length_;
  std::size_t pos_ = 0;
  CancelPoller poller_;
  std::optional<SyntaxError> error_;
};

void append_utf8(std::string& out, unsigned long code_point) {
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
}

// The length of the well-formed UTF-8 sequence at data[pos] (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0.
std::size_t utf8_sequence_length(const char* data, std::size_t length, std::size_t pos) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[pos + i]); };
  const unsigned char lead = byte(0);
  std::size_t n = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;  // the second byte's range
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  }
  if (n == 0 || length - pos < n || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < n; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace

std::optional<SyntaxError> find_json_syntax_error(const char* data, std::size_t length, CancelCheck cancel_requested) {
  return SyntaxChecker(data, length, cancel_requested).run();
}

std::optional<std::size_t> unescape_json_string(const char* data, std::size_t length, std::size_t begin,
                                                std::string& out, CancelCheck cancel_requested) {
  if (begin >= length || data[begin] != '"') return std::nullopt;
  CancelPoller poller(cancel_requested, begin);
  std::size_t p = begin + 1;
  while (p < length) {
    poller.at(p);
    // The run up to the next quote or backslash, at most a megabyte at a time.
    std::size_t run_end = p;
    const std::size_t run_limit = std::min(length, p + kCancelCheckBytes);
    while (run_end < run_limit && data[run_end] != '"' && data[run_end] != '\\') ++run_end;
    out.append(data + p, run_end - p);
    p = run_end;
    if (p == run_limit) continue;
    if (data[p] == '"') return p + 1;
    if (p + 1 >= length) return std::nullopt;
    const char escape = data[p + 1];
    static constexpr char kNamed[] = "\"\\/bfnrt";
    static constexpr char kMeaning[] = "\"\\/\b\f\n\r\t";
    if (const char* named = std::char_traits<char>::find(kNamed, sizeof kNamed - 1, escape)) {
      out += kMeaning[named - kNamed];
      p += 2;
      continue;
    }
    const long unit = json_escaped_code_unit(data, length, p);
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return std::nullopt;
    p += 6;
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const long low = json_escaped_code_unit(data, length, p);
      if (low < 0xDC00 || low > 0xDFFF) return std::nullopt;
      append_utf8(out, 0x10000 + ((static_cast<unsigned long>(unit) - 0xD800) << 10) +
                           (static_cast<unsigned long>(low) - 0xDC00));
      p += 6;
    } else {
      append_utf8(out, static_cast<unsigned long>(unit));
    }
  }
  return std::nullopt;
}

long json_escaped_code_unit(const char* data, std::size_t length, std::size_t pos) {
  if (pos >= length || length - pos < 6 || data[pos] != '\\' || data[pos + 1] != 'u') return -1;
  long unit = 0;
  for (std::size_t i = pos + 2; i < pos + 6; ++i) {
    const int digit = hex_value(data[i]);
    if (digit < 0) return -1;
    unit = unit * 16 + digit;
  }
  return unit;
}

std::string describe_character(const char* data, std::size_t length, std::size_t pos) {
  const auto c = static_cast<unsigned char>(data[pos]);
  if (c >= 0x20 && c < 0x7F) return std::string("character '") + static_cast<char>(c) + "'";
  if (const std::size_t n = utf8_sequence_length(data, length, pos)) {
    return "character '" + std::string(data + pos, n) + "'";
  }
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", c);
  return std::string("byte ") + hex;
}

}  // namespace geo_import::core
