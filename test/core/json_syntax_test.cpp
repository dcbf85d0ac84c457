#include "core/json_syntax.hpp"

#include <gtest/gtest.h>

#include "core/geojson_reader.hpp"
#include "test_support.hpp"

namespace geo_import::core {
namespace {

std::optional<SyntaxError> check(const std::string& json) { return find_json_syntax_error(json.data(), json.size()); }

TEST(JsonSyntax, AcceptsValidJson) {
  EXPECT_FALSE(check(R"({"a":[1,-2.5e3,true,false,null,"x\u00e9\n"],"b":{}})"));
  EXPECT_FALSE(check(" [ ] "));
}

TEST(JsonSyntax, ReportsWhereItBreaks) {
  EXPECT_EQ(check(R"({"a":[1,2})")->byte_offset, 9u);
  EXPECT_EQ(check(R"({"a":tru})")->byte_offset, 5u);
  EXPECT_EQ(check(R"({"a":01})")->byte_offset, 6u);
  EXPECT_EQ(check(R"({"a":1,})")->byte_offset, 7u);
  EXPECT_EQ(check(R"({"type":"FeatureCollection","features":[)")->message,
            "the document ends where a value should start");
  EXPECT_EQ(check("\"abc")->message, "a string that is never closed");
  EXPECT_EQ(check("[1] 2")->byte_offset, 4u);
}

TEST(JsonSyntax, DeepNestingIsAnErrorNotACrash) {
  const std::string deep(200000, '[');
  EXPECT_EQ(check(deep)->message, "nesting deeper than 10000 levels");
}

TEST(JsonSyntax, AnUnexpectedCharacterIsQuotedWholeOrAsItsByte) {
  // Curly quotes pasted into a file: the message quotes the whole character.
  EXPECT_EQ(check("{\"type\": \xE2\x80\x9C"
                  "Feature\xE2\x80\x9D}")
                ->message,
            "unexpected character '\xE2\x80\x9C'");
  EXPECT_EQ(check("[\xC2\xA0"
                  "1]")
                ->message,
            "unexpected character '\xC2\xA0'");
  // Not a well-formed UTF-8 character: its byte, so the message stays UTF-8.
  EXPECT_EQ(check("[\xE2\x80]")->message, "unexpected byte 0xE2");
  EXPECT_EQ(check("[\xED\xA0\x80]")->message, "unexpected byte 0xED");  // a surrogate
  EXPECT_EQ(check("[\xC0\xAF]")->message, "unexpected byte 0xC0");      // overlong
  EXPECT_EQ(check(std::string("[\x01]"))->message, "unexpected byte 0x01");
  EXPECT_EQ(check("[x]")->message, "unexpected character 'x'");
}

std::optional<std::string> unescaped(const std::string& json) {
  std::string out;
  const std::optional<std::size_t> end = unescape_json_string(json.data(), json.size(), 0, out);
  if (!end) return std::nullopt;
  EXPECT_EQ(*end, json.size()) << json;
  return out;
}

TEST(JsonSyntax, UnescapesStrings) {
  EXPECT_EQ(unescaped(R"("plain")"), "plain");
  EXPECT_EQ(unescaped(R"("")"), "");
  EXPECT_EQ(unescaped(R"("q\"b\\s\/n\nt\tr\rb\bf\f")"), "q\"b\\s/n\nt\tr\rb\bf\f");
  EXPECT_EQ(unescaped(R"("\u0041\u00e9\u20AC\ud83d\ude00")"), "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(unescaped(R"("a\u0000b")"), std::string("a\0b", 3));
  EXPECT_EQ(unescaped("\"\xE2\x80\x9C\""), "\xE2\x80\x9C");
  for (const std::string broken : {R"("never closed)", R"("\x")", R"("\u12")", R"("\u12G4")", R"("\ud83d")",
                                   R"("\ud83dx")", R"("\ude00")", R"("\ud83d\u0041")", "\"\\", "x"}) {
    EXPECT_FALSE(unescaped(broken)) << broken;
  }
  std::string out;
  const std::string two = R"("a\"b" "c")";
  EXPECT_EQ(unescape_json_string(two.data(), two.size(), 0, out), std::optional<std::size_t>(6));
  EXPECT_EQ(out, "a\"b");
}

// Counts its calls; says cancel from call `cancel_at` on (0: never).
struct CountingCancel {
  mutable std::size_t calls = 0;
  std::size_t cancel_at = 0;
  static bool poll(const void* self) {
    const auto* check = static_cast<const CountingCancel*>(self);
    return ++check->calls == check->cancel_at;
  }
  CancelCheck as_check() const { return CancelCheck(poll, this); }
};

TEST(JsonSyntax, LongStringsPollTheCancelCheckEveryMegabyte) {
  std::string text(5 << 20, 'x');
  for (std::size_t i = 0; i < text.size(); i += 1000) text[i] = '\\', text[i + 1] = 'n';
  const std::string json = "\"" + text + "\"";
  CountingCancel counting;
  std::string out;
  ASSERT_TRUE(unescape_json_string(json.data(), json.size(), 0, out, counting.as_check()));
  EXPECT_GE(counting.calls, 4u);
  CountingCancel cancelling;
  cancelling.cancel_at = 2;
  out.clear();
  EXPECT_THROW(unescape_json_string(json.data(), json.size(), 0, out, cancelling.as_check()), Interrupted);

  const std::string document = "[\"" + std::string(3 << 20, 'y') + "\"," + std::string(3 << 20, ' ') + "1]";
  CountingCancel checking;
  EXPECT_FALSE(find_json_syntax_error(document.data(), document.size(), checking.as_check()));
  EXPECT_GE(checking.calls, 5u);
  CountingCancel stopping;
  stopping.cancel_at = 4;  // inside the spaces
  EXPECT_THROW(find_json_syntax_error(document.data(), document.size(), stopping.as_check()), Interrupted);
}

TEST(GeoJsonReader, UnwrapsAStringDocument) {
  testing::ExactDocument document(R"("{\"type\":\"Point\",\"coordinates\":[1,2]}")");
  GeoJsonReader reader(document.data(), document.size());
  Feature feature;
  ASSERT_TRUE(reader.next(feature));
  EXPECT_EQ(feature.geometry.coords, (std::vector<double>{1, 2}));
}

TEST(GeoJsonReader, TruncatedTextInAStringGivesItsOffset) {
  testing::ExactDocument document(R"("{\"type\":\"FeatureCollection\",\"features\":[{\"type\":")");
  try {
    GeoJsonReader reader(document.data(), document.size());
    FAIL() << "no error";
  } catch (const DocumentError& error) {
    EXPECT_EQ(error.kind, DocumentError::Kind::Malformed);
    EXPECT_EQ(error.byte_offset, 48u);
    EXPECT_STREQ(error.what(), "malformed JSON: the document ends where a value should start (at byte 48)");
  }
}

}  // namespace
}  // namespace geo_import::core
