#include "core/geojson_reader.hpp"

#include "core/json_syntax.hpp"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace geo_import::core {

namespace {

namespace od = simdjson::ondemand;

// Positions below a geometry's `coordinates`, by type: 0 is one position.
int coordinate_levels(GeometryType type) {
  switch (type) {
    case GeometryType::Point:
      return 0;
    case GeometryType::LineString:
    case GeometryType::MultiPoint:
      return 1;
    case GeometryType::Polygon:
    case GeometryType::MultiLineString:
      return 2;
    case GeometryType::MultiPolygon:
      return 3;
    case GeometryType::GeometryCollection:
      break;
  }
  return -1;
}

bool is_json_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::string at_byte(std::size_t offset) { return " (at byte " + std::to_string(offset) + ")"; }

// Files saved by some Windows editors start with a UTF-8 byte-order mark;
// RFC 8259 lets a parser ignore it. Byte offsets still count it.
std::size_t byte_order_mark_length(const char* data, std::size_t length) {
  return length >= 3 && std::memcmp(data, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

// The offset of the first byte in [from, to) that is one of `bytes`, or `to`.
// Sixteen bytes at a time where SSE2 is there (every x86-64): the scanner's
// pass over the whole document runs on the backend's thread before the
// import starts, and most of a document is bytes it only steps over.
template <std::size_t N>
std::size_t find_first_of(const char* data, std::size_t from, std::size_t to, const std::array<char, N>& bytes) {
  std::size_t p = from;
#if defined(__SSE2__)
  for (; p + 16 <= to; p += 16) {
    const __m128i block = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + p));
    __m128i hits = _mm_setzero_si128();
    for (const char byte : bytes) hits = _mm_or_si128(hits, _mm_cmpeq_epi8(block, _mm_set1_epi8(byte)));
    const int mask = _mm_movemask_epi8(hits);
    if (mask != 0) return p + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
  }
#endif
  for (; p < to; ++p) {
    if (std::find(bytes.begin(), bytes.end(), data[p]) != bytes.end()) return p;
  }
  return to;
}

#if defined(__SSE2__)
// One bit per byte of a 64-byte block, bit i for byte i.
struct BlockMasks {
  uint64_t quotes = 0;
  uint64_t backslashes = 0;
  uint64_t opens = 0;   // '{' and '['
  uint64_t closes = 0;  // '}' and ']'
};

BlockMasks classify_block(const char* block) {
  BlockMasks masks;
  for (int i = 0; i < 4; ++i) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i));
    const auto mask_of = [&](char a, char b) {
      const __m128i hits =
          _mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(a)), _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b)));
      return static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(hits))) << (16 * i);
    };
    masks.quotes |= mask_of('"', '"');
    masks.backslashes |= mask_of('\\', '\\');
    masks.opens |= mask_of('{', '[');
    masks.closes |= mask_of('}', ']');
  }
  return masks;
}

// Bit i set when an odd number of bits 0..i are set in `bits`: with `bits`
// the quotes of a block, the bytes from an opening quote up to (not
// including) its closing one.
uint64_t prefix_xor(uint64_t bits) {
  for (int shift = 1; shift < 64; shift *= 2) bits ^= bits << shift;
  return bits;
}
#endif

constexpr std::array<char, 2> kStringStops = {'"', '\\'};

// Finds where values start and end in a document the database has already
// accepted as JSON; it still checks what it relies on, so that any input ends
// in an error rather than a read out of bounds.
class Scanner {
 public:
  Scanner(const char* data, std::size_t length, CancelCheck cancel_requested = nullptr)
      : data_(data), length_(length), cancel_requested_(cancel_requested) {}

  std::size_t skip_space(std::size_t pos) const {
    std::size_t next_cancel_check = pos + kCancelCheckBytes;
    while (pos < length_ && is_json_space(data_[pos])) {
      if (++pos == next_cancel_check) {
        poll_cancel();
        next_cancel_check += kCancelCheckBytes;
      }
    }
    return pos;
  }

  bool at(std::size_t pos, char c) const { return pos < length_ && data_[pos] == c; }

  // Returns the offset just past the value starting at `pos`.
  std::size_t skip_value(std::size_t pos) const {
    if (pos >= length_) throw malformed(pos, "expected a value, found the end of the document");
    const char c = data_[pos];
    if (c == '"') return skip_string(pos);
    if (c == '{' || c == '[') return skip_container(pos);
    std::size_t end = pos;
    while (end < length_ && !is_json_space(data_[end]) && data_[end] != ',' && data_[end] != ']' && data_[end] != '}' &&
           data_[end] != ':') {
      ++end;
    }
    if (end == pos) throw malformed(pos, "unexpected " + describe_character(data_, length_, pos));
    return end;
  }

  std::size_t skip_string(std::size_t pos) const {
    std::size_t next_cancel_check = pos + kCancelCheckBytes;
    std::size_t p = pos + 1;
    while (p < length_) {
      if (p >= next_cancel_check) {
        poll_cancel();
        next_cancel_check = p + kCancelCheckBytes;
      }
      const std::size_t window_end = std::min(length_, next_cancel_check);
      p = find_first_of(data_, p, window_end, kStringStops);
      if (p == window_end) continue;
      if (data_[p] == '"') return p + 1;
      p += 2;  // a backslash and the character it escapes
    }
    throw malformed(pos, "unterminated string");
  }

  void poll_cancel() const {
    if (cancel_requested_ != nullptr && cancel_requested_()) throw Interrupted();
  }

  DocumentError malformed(std::size_t pos, const std::string& what) const {
    return DocumentError(DocumentError::Kind::Malformed, pos, "malformed JSON: " + what + at_byte(pos));
  }

 private:
  // Steps over the object or array at `pos` 64 bytes at a time where SSE2 is
  // there: a block with no backslash is classified with bit masks (quotes,
  // the string runs between them, brackets outside strings), and only a
  // block in which the depth could reach zero is walked bracket by bracket.
  // Blocks with a backslash and the last bytes go byte by byte.
  std::size_t skip_container(std::size_t pos) const {
    std::size_t depth = 0;
    bool in_string = false;
    std::size_t next_cancel_check = pos + kCancelCheckBytes;
    std::size_t p = pos;
    while (p < length_) {
      if (p >= next_cancel_check) {
        poll_cancel();
        next_cancel_check = p + kCancelCheckBytes;
      }
#if defined(__SSE2__)
      if (p + 64 <= length_) {
        const BlockMasks block = classify_block(data_ + p);
        if (block.backslashes == 0) {
          const uint64_t inside = prefix_xor(block.quotes) ^ (in_string ? ~uint64_t{0} : 0);
          in_string = (inside >> 63) != 0;
          const uint64_t opens = block.opens & ~inside;
          const uint64_t closes = block.closes & ~inside;
          const auto close_count = static_cast<std::size_t>(__builtin_popcountll(closes));
          if (depth > close_count) {
            depth = depth + static_cast<std::size_t>(__builtin_popcountll(opens)) - close_count;
          } else {
            for (uint64_t brackets = opens | closes; brackets != 0; brackets &= brackets - 1) {
              const int bit = __builtin_ctzll(brackets);
              if ((opens >> bit) & 1) {
                ++depth;
              } else if (--depth == 0) {
                return p + static_cast<std::size_t>(bit) + 1;
              }
            }
          }
          p += 64;
          continue;
        }
      }
#endif
      const std::size_t block_end = std::min(length_, p + 64);
      while (p < block_end) {
        const char c = data_[p];
        if (in_string) {
          if (c == '\\') {
            p += 2;  // a backslash and the character it escapes
            continue;
          }
          if (c == '"') in_string = false;
        } else if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          return p + 1;
        }
        ++p;
      }
    }
    if (in_string) throw malformed(length_, "the document ends inside a string");
    throw malformed(length_, std::string("the document ends inside the ") + (data_[pos] == '{' ? "object" : "array") +
                                 " opened at byte " + std::to_string(pos));
  }

  const char* data_;
  std::size_t length_;
  CancelCheck cancel_requested_;
};

// Returns the offset just past the array of features at `begin`, counting
// its elements into `count`.
std::size_t skip_feature_array(const Scanner& scanner, std::size_t begin, std::size_t& count) {
  count = 0;  // a repeated "features" replaces the earlier, as in jsonb
  std::size_t p = scanner.skip_space(begin + 1);
  if (scanner.at(p, ']')) return p + 1;
  while (true) {
    p = scanner.skip_space(scanner.skip_value(p));
    if (++count % 4096 == 0) scanner.poll_cancel();
    if (scanner.at(p, ']')) return p + 1;
    if (!scanner.at(p, ',')) throw scanner.malformed(p, "expected ',' or ']'");
    p = scanner.skip_space(p + 1);
  }
}

// A JSON string's raw contents when it holds no escapes (all the member names
// and type names GeoJSON defines); nullopt otherwise.
std::optional<std::string_view> plain_string(const char* data, std::size_t begin, std::size_t end) {
  if (end - begin < 2 || data[begin] != '"') return std::nullopt;
  std::string_view inner(data + begin + 1, end - begin - 2);
  if (inner.find('\\') != std::string_view::npos) return std::nullopt;
  return inner;
}

// The text of the JSON string at data[begin, end), escapes and all; nullopt
// when it is not one string.
std::optional<std::string> string_text(const char* data, std::size_t length, std::size_t begin, std::size_t end) {
  if (const std::optional<std::string_view> plain = plain_string(data, begin, end)) return std::string(*plain);
  std::string text;
  const std::optional<std::size_t> stop = unescape_json_string(data, length, begin, text);
  if (stop != end) return std::nullopt;
  return text;
}

// Whether PostgreSQL 15's numeric_in takes a JSON number's text as written:
// numeric holds 131072 digits before the decimal point (counted from the
// first non-zero one) and 16383 after it, the exponent applied, and
// numeric_in refuses an exponent from INT_MAX / 2 on outright.
bool fits_numeric(std::string_view number) {
  constexpr long long kMaxExponent = 1073741822;
  constexpr long long kMaxIntegerDigits = 131072;
  constexpr long long kMaxFractionDigits = 16383;
  long long integer_digits = 0;
  long long fraction_digits = 0;
  long long leading_zeros = 0;
  bool nonzero = false;
  auto is_digit = [&](std::size_t i) { return i < number.size() && number[i] >= '0' && number[i] <= '9'; };
  auto count = [&](char digit) {
    if (digit != '0') nonzero = true;
    if (!nonzero) ++leading_zeros;
  };
  std::size_t i = !number.empty() && number[0] == '-' ? 1 : 0;
  for (; is_digit(i); ++i, ++integer_digits) count(number[i]);
  if (i < number.size() && number[i] == '.') {
    for (++i; is_digit(i); ++i, ++fraction_digits) count(number[i]);
  }
  long long exponent = 0;
  if (i < number.size()) {  // 'e' or 'E': JSON allows nothing else here
    ++i;
    const bool negative = i < number.size() && number[i] == '-';
    if (i < number.size() && (number[i] == '+' || number[i] == '-')) ++i;
    while (i < number.size() && number[i] == '0') ++i;
    if (number.size() - i > 10) return false;
    for (; i < number.size(); ++i) exponent = exponent * 10 + (number[i] - '0');
    if (exponent > kMaxExponent) return false;
    if (negative) exponent = -exponent;
  }
  if (fraction_digits - exponent > kMaxFractionDigits) return false;
  return !nonzero || integer_digits - leading_zeros + exponent <= kMaxIntegerDigits;
}

std::string_view trim_right(std::string_view text) {
  while (!text.empty() && is_json_space(text.back())) text.remove_suffix(1);
  return text;
}

// PostgreSQL's text and jsonb cannot hold NUL: it becomes U+FFFD.
void append_without_nul(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '\0') {
      out.append("\xEF\xBF\xBD");
    } else {
      out.push_back(c);
    }
  }
}

class FeatureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DimensionCounts {
  std::size_t with_z = 0;
  std::size_t without_z = 0;
  bool extra_ordinates = false;
};

// The bytes a JSON string's raw contents take once unescaped, with NUL as
// U+FFFD, as the token stream stores them. Never more than the raw length
// but for raw NULs, which simdjson refuses in a string.
std::size_t unescaped_length(std::string_view raw) {
  constexpr std::array<char, 2> kStops = {'\\', '\0'};
  std::size_t length = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    // Plain bytes up to the next backslash or NUL, 16 at a time: a long
    // string is measured at memory speed.
    const std::size_t stop = find_first_of(raw.data(), i, raw.size(), kStops);
    length += stop - i;
    i = stop;
    if (i == raw.size()) break;
    if (raw[i] == '\0') {
      length += 3;
      continue;
    }
    const long unit = json_escaped_code_unit(raw.data(), raw.size(), i);
    if (unit < 0) {  // \n and the like; a broken \u, which simdjson refuses
      ++length;
      ++i;
      continue;
    }
    i += 5;
    const bool high_surrogate = unit >= 0xD800 && unit < 0xDC00;
    if (high_surrogate) {
      const long low = json_escaped_code_unit(raw.data(), raw.size(), i + 1);
      if (low >= 0xDC00 && low < 0xE000) {
        length += 4;
        i += 6;
        continue;
      }
    }
    length += unit == 0 || unit >= 0x800 ? 3 : unit >= 0x80 ? 2 : 1;
  }
  return length;
}

// A raw member name for a message, quoted; a long one cut at a character.
std::string quoted_name(std::string_view raw) {
  constexpr std::size_t kShown = 64;
  if (raw.size() <= kShown) return "\"" + std::string(raw) + "\"";
  std::size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(raw.substr(0, cut)) + "\xE2\x80\xA6\"";
}

// Why jsonb cannot store a property text of `length` bytes (unescaped) after
// `stored` bytes of the feature's other property texts; empty when it can.
// `raw` is the text as written, `name` the raw name of the member it belongs
// to (an array element: the array's; no data: the properties value itself).
std::string jsonb_overflow(std::size_t length, std::string_view raw, bool is_name, std::string_view name,
                           std::size_t stored, std::size_t max_length) {
  if (length > max_length) {
    const std::string what = is_name                  ? "property name " + quoted_name(raw)
                             : name.data() == nullptr ? std::string("the properties value")
                                                      : "property " + quoted_name(name);
    return what + " is longer than jsonb can store (" + std::to_string(length) + " bytes)";
  }
  if (stored + length > max_length) {
    return "the properties hold more text than jsonb can store (over " + std::to_string(max_length) + " bytes)";
  }
  return {};
}

// The raw contents of a string token as simdjson spans it (up to the next
// structural character, so with any space after the closing quote).
std::string_view string_contents(std::string_view token) {
  token = trim_right(token);
  return token.size() >= 2 ? token.substr(1, token.size() - 2) : std::string_view();
}

// The raw name of an object member, from the byte after its opening quote
// and the start of its value: what lies between is the closing quote, the
// colon and spaces.
std::string_view raw_member_name(const char* name, const char* value) {
  const char* end = value;
  while (end > name && (is_json_space(end[-1]) || end[-1] == ':')) --end;
  return std::string_view(name, static_cast<std::size_t>(end - name) - 1);
}

// The property texts of the `properties` value at data[begin, end), checked
// on the raw text in the order Parser::tokenize checks them, with the same
// outcome. At a depth tokenize refuses it stops: tokenize fails the feature.
void check_raw_property_texts(const Scanner& scanner, const char* data, std::size_t begin, std::size_t end,
                              std::size_t max_length) {
  std::size_t stored = 0;
  std::string_view name;                          // of the member being read
  std::vector<std::string_view> enclosing_names;  // of the open objects and arrays
  for (std::size_t pos = begin; pos < end;) {
    const char c = data[pos];
    if (c == '{' || c == '[') {
      if (enclosing_names.size() == kMaxPropertyDepth) return;
      enclosing_names.push_back(name);
      ++pos;
    } else if (c == '}' || c == ']') {
      if (enclosing_names.empty()) return;
      name = enclosing_names.back();
      enclosing_names.pop_back();
      ++pos;
    } else if (c == '"' || c == '-' || (c >= '0' && c <= '9')) {
      const bool is_string = c == '"';
      const std::size_t token_end = is_string ? scanner.skip_string(pos) : scanner.skip_value(pos);
      const std::string_view raw = is_string ? std::string_view(data + pos + 1, token_end - pos - 2)
                                             : std::string_view(data + pos, token_end - pos);
      const bool is_name = is_string && scanner.at(scanner.skip_space(token_end), ':');
      const std::size_t length = unescaped_length(raw);
      const std::string overflow = jsonb_overflow(length, raw, is_name, name, stored, max_length);
      if (!overflow.empty()) throw FeatureError(overflow + at_byte(pos));
      stored += length;
      if (is_name) name = raw;
      pos = token_end;
    } else if (c == 't' || c == 'f' || c == 'n') {
      pos = scanner.skip_value(pos);
    } else {
      ++pos;
    }
  }
}

// The properties of the feature at data[begin, end), checked on the raw text
// before simdjson parses it, for a feature that would be copied to be parsed.
// Members named with escapes are left to Parser::tokenize.
void check_raw_properties(const Scanner& scanner, const char* data, std::size_t begin, std::size_t end,
                          std::size_t max_length) {
  std::size_t pos = scanner.skip_space(begin);
  if (!scanner.at(pos, '{')) return;
  pos = scanner.skip_space(pos + 1);
  while (pos < end && scanner.at(pos, '"')) {
    const std::size_t name_end = scanner.skip_string(pos);
    const std::optional<std::string_view> name = plain_string(data, pos, name_end);
    pos = scanner.skip_space(name_end);
    if (!scanner.at(pos, ':')) return;
    const std::size_t value_begin = scanner.skip_space(pos + 1);
    const std::size_t value_end = scanner.skip_value(value_begin);
    if (name == "properties") check_raw_property_texts(scanner, data, value_begin, value_end, max_length);
    pos = scanner.skip_space(value_end);
    if (!scanner.at(pos, ',')) return;
    pos = scanner.skip_space(pos + 1);
  }
}

}  // namespace

struct GeoJsonReader::Parser {
  od::parser parser;
  std::size_t max_property_length = kMaxJsonbLength;
  Feature* feature = nullptr;
  od::document* document = nullptr;
  // simdjson may read SIMDJSON_PADDING bytes past what it parses. A slice
  // with that much document after it is parsed in place; one nearer the end
  // is copied, padded, into `tail`.
  std::string tail;
  const char* slice = nullptr;
  std::size_t slice_begin = 0;

  static bool in_place(std::size_t length, std::size_t begin, std::size_t end) {
    return length - begin >= end - begin + simdjson::SIMDJSON_PADDING;
  }

  // Starts parsing data[begin, end) of a document of `length` bytes.
  simdjson::error_code iterate(const char* data, std::size_t length, std::size_t begin, std::size_t end,
                               od::document& doc) {
    const std::size_t size = end - begin;
    slice_begin = begin;
    if (in_place(length, begin, end)) {
      slice = data + begin;
      return parser.iterate(slice, size, length - begin).get(doc);
    }
    // One allocation: appending the padding to an exact-size copy would
    // reallocate, holding the slice twice for a moment.
    tail.clear();
    tail.reserve(size + simdjson::SIMDJSON_PADDING);
    tail.assign(data + begin, size);
    tail.append(simdjson::SIMDJSON_PADDING, ' ');
    slice = tail.data();
    return parser.iterate(slice, size, tail.size()).get(doc);
  }

  std::size_t document_offset(const char* position) const {
    return slice_begin + static_cast<std::size_t>(position - slice);
  }

  std::size_t where() {
    const char* location = nullptr;
    if (document != nullptr && document->current_location().get(location) == simdjson::SUCCESS) {
      return document_offset(location);
    }
    return feature->byte_offset;
  }

  [[noreturn]] void fail(const std::string& what) { fail_at(where(), what); }

  [[noreturn]] static void fail_at(std::size_t offset, const std::string& what) {
    throw FeatureError(what + at_byte(offset));
  }

  // `what` stays a C string: this runs for every value read, and a message
  // is only built when it fails.
  void check(simdjson::error_code error, const char* what) {
    if (error == simdjson::INCORRECT_TYPE) fail(what);
    if (error != simdjson::SUCCESS) fail(std::string(what) + " (" + simdjson::error_message(error) + ")");
  }

  // Parses the feature or bare geometry at data[begin, end).
  void parse(const Scanner& scanner, const char* data, std::size_t length, std::size_t begin, std::size_t end,
             bool bare_geometry, Feature& out) {
    feature = &out;
    document = nullptr;
    // Only a feature this large can hold a property jsonb refuses; before it
    // is copied into `tail`, such a property fails it on the raw text.
    if (!bare_geometry && end - begin > max_property_length && !in_place(length, begin, end)) {
      check_raw_properties(scanner, data, begin, end, max_property_length);
    }
    od::document doc;
    const simdjson::error_code error = iterate(data, length, begin, end, doc);
    if (error != simdjson::SUCCESS) throw FeatureError(std::string(simdjson::error_message(error)) + at_byte(begin));
    document = &doc;
    od::object object;
    check(doc.get_object().get(object), "a feature must be a JSON object");
    if (bare_geometry) {
      out.has_geometry = true;
      read_geometry_object(object, out.geometry, 0);
      return;
    }
    // A member given twice counts once, the last one, as in jsonb.
    std::optional<std::string> type;
    std::size_t type_offset = 0;  // just past the last "type" value
    for (auto field : object) {
      std::string_view key;
      check(field.unescaped_key().get(key), "unreadable member name");
      od::value value;
      check(field.value().get(value), "unreadable member");
      if (key == "type") {
        std::string_view name;
        check(value.get_string().get(name), "a feature's \"type\" must be a string");
        type.emplace(name);
        type_offset = where();
      } else if (key == "id") {
        read_id(value);
      } else if (key == "properties") {
        out.properties.clear();
        bool is_null = false;
        check(value.is_null().get(is_null), "unreadable properties");
        if (!is_null) tokenize(value, out.properties, 1, std::string_view());
      } else if (key == "geometry") {
        out.geometry.clear();
        bool is_null = false;
        check(value.is_null().get(is_null), "unreadable geometry");
        out.has_geometry = !is_null;
        if (!is_null) read_geometry(value, out.geometry, 0);
      }
    }
    if (!type) fail("a feature has no \"type\" member");
    if (*type != "Feature") {
      fail_at(type_offset, "an element of \"features\" has type \"" + *type + "\", not \"Feature\"");
    }
  }

  void read_id(od::value value) {
    feature->has_id = false;
    feature->id.clear();
    od::json_type type;
    check(value.type().get(type), "unreadable id");
    if (type == od::json_type::null) return;  // as if absent
    if (type == od::json_type::string) {
      std::string_view id;
      check(value.get_string().get(id), "unreadable id");
      append_without_nul(feature->id, id);
      feature->has_id = true;
    } else if (type == od::json_type::number) {
      feature->id.assign(trim_right(value.raw_json_token()));
      feature->has_id = true;
    } else {
      feature->notes.emplace_back("id is neither a string nor a number; ignored");
    }
  }

  // `nesting` counts the GeometryCollections around the geometry.
  void read_geometry(od::value value, Geometry& geometry, std::size_t nesting) {
    od::object object;
    check(value.get_object().get(object), "a geometry must be a JSON object");
    read_geometry_object(object, geometry, nesting);
  }

  // Members count as in jsonb: a repeated one replaces the earlier. The
  // coordinates (or geometries) are read in the same pass when "type" came
  // before them, as writers put it; otherwise, or when a later "type"
  // replaced the one they were read for, in a second pass.
  void read_geometry_object(od::object& object, Geometry& geometry, std::size_t nesting) {
    bool saw_type = false;
    std::string type_name;
    std::optional<GeometryType> type;
    std::size_t type_offset = 0;  // just past the last "type" value
    std::size_t field_number = 0;
    std::size_t last_coordinates = 0;  // field numbers, from 1; 0 for none
    std::size_t last_geometries = 0;
    std::size_t read_field = 0;  // the content read last, for `read_type`
    GeometryType read_type = GeometryType::Point;
    std::optional<std::string> read_error;  // why that content does not fit `read_type`
    for (auto field : object) {
      ++field_number;
      std::string_view key;
      check(field.unescaped_key().get(key), "unreadable member name");
      od::value value;
      check(field.value().get(value), "unreadable member");
      if (key == "type") {
        std::string_view name;
        check(value.get_string().get(name), "a geometry's \"type\" must be a string");
        saw_type = true;
        type_name.assign(name);
        type = geometry_type_from_name(name);
        type_offset = where();
      } else if (key == "coordinates" || key == "geometries") {
        (key == "coordinates" ? last_coordinates : last_geometries) = field_number;
        if (type && key == content_member(*type)) {
          // Content that does not fit this type may fit a later "type";
          // simdjson skips what was left unread.
          read_field = field_number;
          read_type = *type;
          read_error.reset();
          try {
            read_content(value, *type, geometry, nesting);
          } catch (const FeatureError& error) {
            read_error = error.what();
          }
        }
      }
    }
    if (!saw_type) fail("a geometry needs a string \"type\"");
    if (!type) fail_at(type_offset, "unknown geometry type \"" + type_name + "\"");
    const std::size_t content_field = *type == GeometryType::GeometryCollection ? last_geometries : last_coordinates;
    if (content_field == 0) {
      fail(*type == GeometryType::GeometryCollection ? "a GeometryCollection needs a \"geometries\" array"
                                                     : "a " + type_name + " needs \"coordinates\"");
    }
    if (content_field == read_field && *type == read_type) {
      if (read_error) throw FeatureError(*read_error);
      return;
    }
    check(object.reset().error(), "unreadable geometry");
    field_number = 0;
    for (auto field : object) {
      if (++field_number < content_field) continue;
      od::value value;
      check(field.value().get(value), "unreadable member");
      read_content(value, *type, geometry, nesting);
      return;
    }
  }

  static std::string_view content_member(GeometryType type) {
    return type == GeometryType::GeometryCollection ? "geometries" : "coordinates";
  }

  // Reads a geometry's coordinates or members, replacing any read before.
  void read_content(od::value value, GeometryType type, Geometry& geometry, std::size_t nesting) {
    geometry.clear();
    geometry.type = type;
    if (type == GeometryType::GeometryCollection) {
      if (nesting == kMaxCollectionNesting) {
        fail("GeometryCollections nested more than " + std::to_string(kMaxCollectionNesting) + " deep");
      }
      od::array members;
      check(value.get_array().get(members), "a GeometryCollection needs a \"geometries\" array");
      for (auto member : members) {
        od::value member_value;
        check(member.get(member_value), "unreadable geometry");
        geometry.members.emplace_back();
        read_geometry(member_value, geometry.members.back(), nesting + 1);
      }
      settle_collection_dimension(geometry);
      return;
    }
    DimensionCounts dims;
    read_nested(value, coordinate_levels(type), geometry, dims);
    settle_dimension(geometry, dims);
  }

  // Reads arrays nested `levels` deep down to positions, recording counts.
  void read_nested(od::value value, int levels, Geometry& geometry, DimensionCounts& dims) {
    od::array array;
    check(value.get_array().get(array), levels == 0 ? "a position must be an array of numbers"
                                                    : "coordinates are not nested as the geometry type requires");
    if (levels == 0) {
      read_position(array, geometry, dims);
      return;
    }
    const std::size_t slot = geometry.counts.size();
    geometry.counts.push_back(0);
    uint32_t n = 0;
    for (auto element : array) {
      od::value child;
      check(element.get(child), "unreadable coordinates");
      if (levels == 1) {
        od::array position;
        check(child.get_array().get(position), "a position must be an array of numbers");
        if (!read_position(position, geometry, dims)) fail("a position has no coordinates");
      } else {
        read_nested(child, levels - 1, geometry, dims);
      }
      ++n;
    }
    geometry.counts[slot] = n;
  }

  // Appends x, y, z (NaN when absent); false for an empty array (POINT EMPTY).
  bool read_position(od::array& array, Geometry& geometry, DimensionCounts& dims) {
    double xyz[3] = {0, 0, std::numeric_limits<double>::quiet_NaN()};
    std::size_t n = 0;
    for (auto element : array) {
      double value = 0;
      const simdjson::error_code error = element.get_double().get(value);
      if (error == simdjson::INCORRECT_TYPE) fail("a coordinate is not a number");
      if (error == simdjson::NUMBER_ERROR) fail("a coordinate is out of range");
      check(error, "unreadable coordinate");
      // -0 becomes 0: a ring closed from -0 to 0 is closed for GEOS and for
      // us, but PostGIS compares a ring's ends byte by byte and refuses it.
      if (n < 3) xyz[n] = value + 0.0;
      ++n;
    }
    if (n == 0) return false;
    if (n == 1) fail("a position has 1 number; it needs at least 2");
    geometry.coords.insert(geometry.coords.end(), xyz, xyz + 3);
    (n >= 3 ? dims.with_z : dims.without_z)++;
    if (n > 3) dims.extra_ordinates = true;
    return true;
  }

  // Positions were read three numbers each; keep Z only if every one has it.
  void settle_dimension(Geometry& geometry, const DimensionCounts& dims) {
    if (dims.extra_ordinates) feature->notes.emplace_back("positions with more than 3 numbers: values after Z dropped");
    if (dims.with_z > 0 && dims.without_z > 0) {
      feature->notes.emplace_back("mixed 2D and 3D positions in one geometry: Z dropped");
    }
    geometry.has_z = true;
    if (dims.with_z == 0 || dims.without_z > 0) drop_z(geometry);
  }

  // A collection is 3D only if every member is; members follow the collection.
  void settle_collection_dimension(Geometry& collection) {
    bool all_z = !collection.members.empty();
    bool any_z = false;
    for (const Geometry& member : collection.members) {
      all_z = all_z && member.has_z;
      any_z = any_z || member.has_z;
    }
    collection.has_z = all_z;
    if (any_z && !all_z) {
      feature->notes.emplace_back("mixed 2D and 3D members in a GeometryCollection: Z dropped");
      drop_z(collection);
    }
  }

  static void drop_z(Geometry& geometry) {
    for (Geometry& member : geometry.members) drop_z(member);
    if (!geometry.has_z) return;
    std::size_t out = 0;
    for (std::size_t in = 0; in < geometry.coords.size(); in += 3) {
      geometry.coords[out++] = geometry.coords[in];
      geometry.coords[out++] = geometry.coords[in + 1];
    }
    geometry.coords.resize(out);
    geometry.has_z = false;
  }

  void push(Properties& properties, PropertyToken::Kind kind) { properties.tokens.push_back({kind, 0, 0}); }

  void push_text(Properties& properties, PropertyToken::Kind kind, std::string_view text) {
    const auto offset = static_cast<uint32_t>(properties.text.size());
    append_without_nul(properties.text, text);
    properties.tokens.push_back({kind, offset, static_cast<uint32_t>(properties.text.size() - offset)});
  }

  // Fails the feature when jsonb cannot store a property text, before it is
  // unescaped or copied; `raw` and `name` as for jsonb_overflow.
  void check_fits_jsonb(const Properties& properties, std::string_view raw, bool is_name, std::string_view name,
                        std::size_t offset) {
    const std::size_t stored = properties.text.size();
    if (stored + raw.size() <= max_property_length) return;  // unescaping never lengthens
    const std::string overflow = jsonb_overflow(unescaped_length(raw), raw, is_name, name, stored, max_property_length);
    if (!overflow.empty()) fail_at(offset, overflow);
  }

  // `depth` counts the objects and arrays the value opens, `properties` itself
  // being 1; `name` is the raw name of the member the value belongs to (an
  // array element: the array's; no data: the properties value itself).
  void tokenize(od::value value, Properties& properties, std::size_t depth, std::string_view name) {
    using Kind = PropertyToken::Kind;
    od::json_type type{};  // set by value.type(), or check() throws
    check(value.type().get(type), "unreadable property");
    if ((type == od::json_type::object || type == od::json_type::array) && depth > kMaxPropertyDepth) {
      fail("properties nested more than " + std::to_string(kMaxPropertyDepth) + " deep");
    }
    switch (type) {
      case od::json_type::object: {
        od::object object;
        check(value.get_object().get(object), "unreadable property object");
        push(properties, Kind::BeginObject);
        for (auto field : object) {
          od::raw_json_string raw_key;
          check(field.key().get(raw_key), "unreadable property name");
          od::value member;
          check(field.value().get(member), "unreadable property");
          const std::string_view member_name = raw_member_name(raw_key.raw(), member.raw_json_token().data());
          check_fits_jsonb(properties, member_name, true, member_name, document_offset(raw_key.raw()) - 1);
          std::string_view key;
          check(field.unescaped_key().get(key), "unreadable property name");
          push_text(properties, Kind::Key, key);
          tokenize(member, properties, depth + 1, member_name);
        }
        push(properties, Kind::EndObject);
        break;
      }
      case od::json_type::array: {
        od::array array;
        check(value.get_array().get(array), "unreadable property array");
        push(properties, Kind::BeginArray);
        for (auto element : array) {
          od::value member;
          check(element.get(member), "unreadable property");
          tokenize(member, properties, depth + 1, name);
        }
        push(properties, Kind::EndArray);
        break;
      }
      case od::json_type::string: {
        const std::string_view token = value.raw_json_token();
        check_fits_jsonb(properties, string_contents(token), false, name, document_offset(token.data()));
        std::string_view text;
        check(value.get_string().get(text), "a property string is not valid (bad escape or UTF-8)");
        push_text(properties, Kind::String, text);
        break;
      }
      case od::json_type::number: {
        const std::string_view number = trim_right(value.raw_json_token());
        check_fits_jsonb(properties, number, false, name, document_offset(number.data()));
        push_text(properties, fits_numeric(number) ? Kind::Number : Kind::String, number);
        break;
      }
      case od::json_type::boolean: {
        bool flag = false;
        check(value.get_bool().get(flag), "unreadable property");
        push(properties, flag ? Kind::True : Kind::False);
        break;
      }
      case od::json_type::null: {
        bool is_null = false;
        check(value.is_null().get(is_null), "unreadable property");
        push(properties, Kind::Null);
        break;
      }
    }
  }
};

void Feature::clear() {
  index = 0;
  byte_offset = 0;
  has_id = false;
  id.clear();
  properties.clear();
  has_geometry = false;
  geometry.clear();
  notes.clear();
  error.clear();
}

GeoJsonReader::GeoJsonReader(const char* data, std::size_t length, CancelCheck cancel_requested,
                             std::size_t max_property_length)
    : data_(data), length_(length), cancel_requested_(cancel_requested), parser_(std::make_unique<Parser>()) {
  parser_->max_property_length = max_property_length;
  unwrap_string_document();
  read_top_level();
}

void GeoJsonReader::unwrap_string_document() {
  const Scanner scanner(data_, length_, cancel_requested_);
  const std::size_t start = scanner.skip_space(0);
  if (!scanner.at(start, '"')) return;
  unwrapped_.reserve(length_);  // the text is never longer than its escaped form
  const std::optional<std::size_t> end = unescape_json_string(data_, length_, start, unwrapped_, cancel_requested_);
  if (!end || scanner.skip_space(*end) != length_) {
    throw DocumentError(DocumentError::Kind::Malformed, start, "malformed JSON: the payload is a broken string");
  }
  data_ = unwrapped_.data();
  length_ = unwrapped_.size();
  const std::size_t bom = byte_order_mark_length(data_, length_);
  if (const std::optional<SyntaxError> error = find_json_syntax_error(data_ + bom, length_ - bom, cancel_requested_)) {
    const std::size_t offset = bom + error->byte_offset;
    throw DocumentError(DocumentError::Kind::Malformed, offset, "malformed JSON: " + error->message + at_byte(offset));
  }
}

GeoJsonReader::~GeoJsonReader() = default;

void GeoJsonReader::read_top_level() {
  const Scanner scanner(data_, length_, cancel_requested_);
  std::size_t pos = scanner.skip_space(byte_order_mark_length(data_, length_));
  if (pos >= length_) throw scanner.malformed(pos, "the document is empty");
  if (data_[pos] != '{') {
    throw DocumentError(DocumentError::Kind::NotGeoJson, pos,
                        "the payload is not GeoJSON: its top level is not a JSON object" + at_byte(pos));
  }
  const std::size_t object_begin = pos;
  std::optional<std::string> type;
  std::size_t type_offset = pos;
  std::size_t features_begin = 0;
  std::size_t features_end = 0;
  bool has_features = false;

  pos = scanner.skip_space(pos + 1);
  if (scanner.at(pos, '}')) {
    throw DocumentError(
        DocumentError::Kind::NotGeoJson, object_begin,
        "the payload is not GeoJSON: its top-level object has no \"type\" member" + at_byte(object_begin));
  }
  while (true) {
    if (!scanner.at(pos, '"')) throw scanner.malformed(pos, "expected a member name");
    const std::size_t key_end = scanner.skip_string(pos);
    // Names with escapes too: jsonb reads "feat\u0075res" as "features".
    const std::optional<std::string> key = string_text(data_, length_, pos, key_end);
    pos = scanner.skip_space(key_end);
    if (!scanner.at(pos, ':')) throw scanner.malformed(pos, "expected ':'");
    const std::size_t value_begin = scanner.skip_space(pos + 1);
    const bool is_feature_array = key == "features" && scanner.at(value_begin, '[');
    // The features are counted in the same pass that finds the array's end.
    const std::size_t value_end =
        is_feature_array ? skip_feature_array(scanner, value_begin, feature_count_) : scanner.skip_value(value_begin);
    if (key == "type") {
      type = string_text(data_, length_, value_begin, value_end);
      type_offset = value_begin;
      if (!type) {
        throw DocumentError(DocumentError::Kind::NotGeoJson, value_begin,
                            "the top-level \"type\" is not a string" + at_byte(value_begin));
      }
    } else if (key == "features") {
      has_features = true;
      features_begin = value_begin;
      features_end = value_end;
    } else if (key == "crs") {
      read_crs(std::string_view(data_ + value_begin, value_end - value_begin));
    }
    pos = scanner.skip_space(value_end);
    if (scanner.at(pos, ',')) {
      pos = scanner.skip_space(pos + 1);
      continue;
    }
    if (scanner.at(pos, '}')) break;
    throw scanner.malformed(pos, "expected ',' or '}'");
  }
  if (scanner.skip_space(pos + 1) != length_) {
    throw scanner.malformed(scanner.skip_space(pos + 1), "unexpected data after the top-level object");
  }
  if (!type) {
    throw DocumentError(
        DocumentError::Kind::NotGeoJson, object_begin,
        "the payload is not GeoJSON: its top-level object has no \"type\" member" + at_byte(object_begin));
  }

  if (*type == "FeatureCollection") {
    kind_ = DocumentKind::FeatureCollection;
    if (!has_features) {
      throw DocumentError(DocumentError::Kind::NotGeoJson, object_begin,
                          "the FeatureCollection has no \"features\" member" + at_byte(object_begin));
    }
    if (data_[features_begin] != '[') {
      throw DocumentError(DocumentError::Kind::NotGeoJson, features_begin,
                          "\"features\" is not an array" + at_byte(features_begin));
    }
    array_end_ = features_end - 1;
    cursor_ = scanner.skip_space(features_begin + 1);
  } else if (*type == "Feature") {
    kind_ = DocumentKind::Feature;
    feature_count_ = 1;
  } else if (geometry_type_from_name(*type)) {
    kind_ = DocumentKind::Geometry;
    feature_count_ = 1;
  } else {
    throw DocumentError(DocumentError::Kind::NotGeoJson, type_offset,
                        "the top-level type \"" + std::string(*type) +
                            "\" is not FeatureCollection, Feature or a geometry type" + at_byte(type_offset));
  }
  if (kind_ != DocumentKind::FeatureCollection) {
    cursor_ = object_begin;
    array_end_ = length_;
  }
}

void GeoJsonReader::read_crs(std::string_view crs) {
  const std::size_t offset = static_cast<std::size_t>(crs.data() - data_);
  auto unsupported = [&](const std::string& what) {
    return DocumentError(DocumentError::Kind::Unsupported, offset,
                         what + at_byte(offset) + "; give the option source_srid instead");
  };
  crs_srid_.reset();  // a repeated "crs" replaces the earlier, as in jsonb
  if (crs == "null") return;
  od::document doc;
  od::object object;
  if (parser_->iterate(data_, length_, offset, offset + crs.size(), doc) != simdjson::SUCCESS ||
      doc.get_object().get(object) != simdjson::SUCCESS) {
    throw unsupported("the \"crs\" member is not an object");
  }
  std::string_view type;
  if (object.find_field_unordered("type").get_string().get(type) != simdjson::SUCCESS) {
    throw unsupported("the \"crs\" member has no string \"type\"");
  }
  od::object properties;
  if (object.find_field_unordered("properties").get_object().get(properties) != simdjson::SUCCESS) {
    throw unsupported("the \"crs\" member has no \"properties\" object");
  }
  if (type == "name") {
    std::string_view name;
    if (properties.find_field_unordered("name").get_string().get(name) != simdjson::SUCCESS) {
      throw unsupported("the named \"crs\" has no string \"name\"");
    }
    crs_srid_ = srid_from_crs_name(name);
    if (!crs_srid_) throw unsupported("the crs name \"" + std::string(name) + "\" is not understood");
  } else if (type == "EPSG") {
    int64_t code = 0;
    if (properties.find_field_unordered("code").get_int64().get(code) != simdjson::SUCCESS || code <= 0 ||
        code > 999999) {
      throw unsupported("the EPSG \"crs\" has no valid \"code\"");
    }
    crs_srid_ = static_cast<int32_t>(code);
  } else {
    throw unsupported("a \"crs\" of type \"" + std::string(type) + "\" is not supported");
  }
}

bool GeoJsonReader::next(Feature& feature) {
  feature.clear();
  const Scanner scanner(data_, length_, cancel_requested_);
  if (kind_ == DocumentKind::FeatureCollection) {
    if (cursor_ >= array_end_) return false;
  } else if (next_index_ > 0) {
    return false;
  }
  const std::size_t begin = cursor_;
  const std::size_t end = kind_ == DocumentKind::FeatureCollection ? scanner.skip_value(begin) : array_end_;
  feature.index = next_index_++;
  feature.byte_offset = begin;
  try {
    parser_->parse(scanner, data_, length_, begin, end, kind_ == DocumentKind::Geometry, feature);
  } catch (const FeatureError& error) {
    feature.error = error.what();
  } catch (const simdjson::simdjson_error& error) {
    feature.error = std::string(error.what()) + at_byte(begin);
  }
  // A failed feature is not stored: what was read of its properties (up to
  // jsonb's limit) is released rather than passed on.
  if (!feature.error.empty()) feature.properties = Properties();
  cursor_ = scanner.skip_space(end);
  if (scanner.at(cursor_, ',')) cursor_ = scanner.skip_space(cursor_ + 1);
  return true;
}

std::optional<int32_t> srid_from_crs_name(std::string_view name) {
  if (name == "urn:ogc:def:crs:OGC:1.3:CRS84" || name == "urn:ogc:def:crs:OGC::CRS84" || name == "CRS84") return 4326;
  std::string_view code;
  constexpr std::string_view kEpsgPrefix = "EPSG:";
  constexpr std::string_view kUrnPrefix = "urn:ogc:def:crs:EPSG:";
  if (name.substr(0, kUrnPrefix.size()) == kUrnPrefix) {
    code = name.substr(name.rfind(':') + 1);  // "urn:ogc:def:crs:EPSG:[version]:code"
  } else if (name.substr(0, kEpsgPrefix.size()) == kEpsgPrefix) {
    code = name.substr(kEpsgPrefix.size());
  } else {
    return std::nullopt;
  }
  int32_t srid = 0;
  const auto [end, error] = std::from_chars(code.data(), code.data() + code.size(), srid);
  if (error != std::errc() || end != code.data() + code.size() || srid <= 0) return std::nullopt;
  return srid;
}

}  // namespace geo_import::core
