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
  EXPECT_EQ(check(R"({"type":"FeatureCollection","features":[)")->message, "the document ends where a value should start");
  EXPECT_EQ(check("\"abc")->message, "a string that is never closed");
  EXPECT_EQ(check("[1] 2")->byte_offset, 4u);
}

TEST(JsonSyntax, DeepNestingIsAnErrorNotACrash) {
  const std::string deep(200000, '[');
  EXPECT_EQ(check(deep)->message, "nesting deeper than 10000 levels");
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
