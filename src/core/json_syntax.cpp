#include "core/json_syntax.hpp"

#include <vector>

namespace geo_import::core {

namespace {

constexpr std::size_t kMaxDepth = 10000;

class SyntaxChecker {
 public:
  SyntaxChecker(const char* data, std::size_t length) : data_(data), length_(length) {}

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
    return fail(std::string("unexpected character '") + c + "'");
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
            if (pos_ + i >= length_ || !is_hex(data_[pos_ + i])) return fail("a bad \\u escape");
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

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  bool at(char c) const { return pos_ < length_ && data_[pos_] == c; }

  void skip_space() {
    while (pos_ < length_ &&
           (data_[pos_] == ' ' || data_[pos_] == '\n' || data_[pos_] == '\r' || data_[pos_] == '\t')) {
      ++pos_;
    }
  }

  bool fail(const std::string& message) {
    error_ = SyntaxError{pos_, message};
    return false;
  }

  const char* data_;
  std::size_t length_;
  std::size_t pos_ = 0;
  std::optional<SyntaxError> error_;
};

}  // namespace

std::optional<SyntaxError> find_json_syntax_error(const char* data, std::size_t length) {
  return SyntaxChecker(data, length).run();
}

}  // namespace geo_import::core
