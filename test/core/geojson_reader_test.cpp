#include "core/geojson_reader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <utility>

#include "test_support.hpp"

namespace geo_import::core {
namespace {

using testing::ExactDocument;

std::vector<Feature> read_all(const std::string& json, GeoJsonReader** reader_out = nullptr) {
  ExactDocument document(json);
  GeoJsonReader reader(document.data(), document.size());
  std::vector<Feature> features;
  Feature feature;
  while (reader.next(feature)) features.push_back(feature);
  EXPECT_EQ(features.size(), reader.feature_count());
  return features;
}

DocumentError document_error(const std::string& json) {
  ExactDocument document(json);
  try {
    GeoJsonReader reader(document.data(), document.size());
  } catch (const DocumentError& error) {
    return error;
  }
  ADD_FAILURE() << "no DocumentError for " << json;
  return DocumentError(DocumentError::Kind::Malformed, 0, "");
}

TEST(GeoJsonReader, ReadsFeatureCollectionInOrder) {
  auto features = read_all(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","id":"a","properties":{"n":1},"geometry":{"type":"Point","coordinates":[1,2]}},
      {"geometry":{"coordinates":[[0,0],[1,1]],"type":"LineString"},"type":"Feature","id":7,"properties":null}]})");
  ASSERT_EQ(features.size(), 2u);
  EXPECT_EQ(features[0].index, 0u);
  EXPECT_TRUE(features[0].has_id);
  EXPECT_EQ(features[0].id, "a");
  EXPECT_EQ(features[0].geometry.type, GeometryType::Point);
  EXPECT_EQ(features[0].geometry.coords, (std::vector<double>{1, 2}));
  EXPECT_EQ(features[1].id, "7");
  EXPECT_TRUE(features[1].properties.tokens.empty());
  EXPECT_EQ(features[1].geometry.type, GeometryType::LineString);
  EXPECT_EQ(features[1].geometry.counts, (std::vector<uint32_t>{2}));
}

TEST(GeoJsonReader, CountsAnEmptyCollection) {
  EXPECT_TRUE(read_all(R"({"type":"FeatureCollection","features":[]})").empty());
}

TEST(GeoJsonReader, ReadsBareGeometryAsOneFeature) {
  auto features = read_all(R"({"type":"Polygon","coordinates":[[[0,0,1],[1,0,1],[1,1,1],[0,0,1]]]})");
  ASSERT_EQ(features.size(), 1u);
  EXPECT_TRUE(features[0].has_geometry);
  EXPECT_TRUE(features[0].geometry.has_z);
  EXPECT_EQ(features[0].geometry.counts, (std::vector<uint32_t>{1, 4}));
}

TEST(GeoJsonReader, ReadsNestedMultiPolygonCounts) {
  auto features = read_all(R"({"type":"Feature","properties":{},"geometry":{"type":"MultiPolygon","coordinates":[
      [[[0,0],[1,0],[1,1],[0,0]]],
      [[[5,5],[9,5],[9,9],[5,5]],[[6,6],[7,6],[7,7],[6,6]]]]}})");
  ASSERT_EQ(features.size(), 1u);
  EXPECT_EQ(features[0].geometry.counts, (std::vector<uint32_t>{2, 1, 4, 2, 4, 4}));
  EXPECT_EQ(features[0].geometry.position_count(), 12u);
}

TEST(GeoJsonReader, NegativeZeroCoordinatesAreReadAsZero) {
  auto features = read_all(R"({"type":"Polygon","coordinates":[[[0,-0.0],[1,-0],[1,1],[-0e5,1],[0,0]]]})");
  ASSERT_EQ(features.size(), 1u);
  for (double value : features[0].geometry.coords) EXPECT_FALSE(std::signbit(value)) << value;
}

TEST(GeoJsonReader, BadFeatureFailsAloneWithOffset) {
  auto features = read_all(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":["x",2]}},
      {"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[3,4]}}]})");
  ASSERT_EQ(features.size(), 2u);
  EXPECT_NE(features[0].error.find("not a number (at byte"), std::string::npos) << features[0].error;
  EXPECT_TRUE(features[1].error.empty());
  EXPECT_EQ(features[1].geometry.coords, (std::vector<double>{3, 4}));
}

TEST(GeoJsonReader, MixedDimensionsDropZWithANote) {
  auto features = read_all(R"({"type":"LineString","coordinates":[[0,0,5],[1,1]]})");
  ASSERT_EQ(features.size(), 1u);
  EXPECT_FALSE(features[0].geometry.has_z);
  EXPECT_EQ(features[0].geometry.coords, (std::vector<double>{0, 0, 1, 1}));
  ASSERT_EQ(features[0].notes.size(), 1u);
}

TEST(GeoJsonReader, PropertiesBecomeTokensWithNulReplacedThereAndInIds) {
  auto features = read_all(R"({"type":"Feature","id":"i\u0000d","geometry":null,)"
                           R"("properties":{"s":"a\u0000b","n":1e400,"big":1e2000000,"l":[true,null]}})");
  ASSERT_EQ(features.size(), 1u);
  const Properties& p = features[0].properties;
  using Kind = PropertyToken::Kind;
  std::vector<Kind> kinds;
  for (const auto& token : p.tokens) kinds.push_back(token.kind);
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::BeginObject, Kind::Key, Kind::String, Kind::Key, Kind::Number, Kind::Key,
                                      Kind::String, Kind::Key, Kind::BeginArray, Kind::True, Kind::Null, Kind::EndArray,
                                      Kind::EndObject}));
  EXPECT_EQ(p.text.substr(p.tokens[2].text_offset, p.tokens[2].text_length),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(p.text.substr(p.tokens[4].text_offset, p.tokens[4].text_length), "1e400");
  EXPECT_EQ(features[0].id,
            "i\xEF\xBF\xBD"
            "d");
  EXPECT_FALSE(features[0].has_geometry);
}

TEST(GeoJsonReader, NumbersNumericCannotHoldStayStrings) {
  // Each pair: the largest numeric_in takes, then one step beyond.
  const std::vector<std::string> numbers = {
      std::string(131072, '9'),                  // digits before the point
      std::string(131073, '9'),                  //
      "1" + std::string(130071, '0') + "e1000",  // the same, with an exponent
      "1" + std::string(130072, '0') + "e1000",  //
      "0.0001e131075",                           // leading zeros do not count
      "0.0001e131076",                           //
      "0." + std::string(16382, '0') + "1",      // digits after the point
      "0." + std::string(16383, '0') + "1",      //
      "1e-16383",                                // the same, with an exponent
      "10e-16384",                               // trailing zeros count
      "0e1073741822",                            // zero takes any exponent numeric_in takes
      "0e1073741823",                            //
      "-1e-0000000000000000000001",              // exponent digits after leading zeros
  };
  std::string array;
  for (const std::string& number : numbers) array += (array.empty() ? "" : ",") + number;
  auto features = read_all(R"({"type":"Feature","geometry":null,"properties":[)" + array + "]}");
  ASSERT_EQ(features.size(), 1u);
  using Kind = PropertyToken::Kind;
  const std::vector<PropertyToken>& tokens = features[0].properties.tokens;
  ASSERT_EQ(tokens.size(), numbers.size() + 2);
  const std::vector<Kind> expected = {Kind::Number, Kind::String, Kind::Number, Kind::String, Kind::Number,
                                      Kind::String, Kind::Number, Kind::String, Kind::Number, Kind::String,
                                      Kind::Number, Kind::String, Kind::Number};
  for (std::size_t i = 0; i < numbers.size(); ++i) {
    EXPECT_EQ(tokens[i + 1].kind, expected[i]) << numbers[i].substr(0, 40);
  }
}

TEST(GeoJsonReader, RepeatedMembersCountOnceTheLastAsInJsonb) {
  auto features = read_all(R"({"type":"FeatureCollection","features":[
      {"type":"Feature","id":1,"id":"b","properties":{"a":1},"properties":{"b":2},
       "geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]},
       "geometry":{"type":"LineString","coordinates":[[5,5],[6,6],[7,7]]}},
      {"type":"Feature","properties":null,"geometry":{"coordinates":[[0,0],[1,1]],"type":"Point","coordinates":[5,6],
       "type":"Point"}},
      {"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[[0,0],[1,1]],"type":"MultiPoint"}},
      {"type":"Feature","id":3,"id":null,"properties":null,"geometry":{"type":"Point"}}]})");
  ASSERT_EQ(features.size(), 4u);
  EXPECT_EQ(features[0].id, "b");
  EXPECT_EQ(features[0].properties.tokens.size(), 4u);
  EXPECT_EQ(features[0].geometry.counts, (std::vector<uint32_t>{3}));
  EXPECT_EQ(features[0].geometry.coords, (std::vector<double>{5, 5, 6, 6, 7, 7}));
  EXPECT_EQ(features[1].geometry.type, GeometryType::Point);
  EXPECT_EQ(features[1].geometry.coords, (std::vector<double>{5, 6}));
  EXPECT_EQ(features[2].geometry.type, GeometryType::MultiPoint);
  EXPECT_EQ(features[2].geometry.coords, (std::vector<double>{0, 0, 1, 1}));
  EXPECT_FALSE(features[3].has_id);
  EXPECT_TRUE(features[3].notes.empty());
  EXPECT_EQ(features[3].error.rfind("a Point needs \"coordinates\"", 0), 0u) << features[3].error;
}

TEST(GeoJsonReader, DeepNestingFailsTheFeatureNotTheImport) {
  std::string collection = R"({"type":"Point","coordinates":[1,2]})";
  for (std::size_t i = 0; i <= kMaxCollectionNesting; ++i) {
    collection = R"({"type":"GeometryCollection","geometries":[)" + collection + "]}";
  }
  // Inside the properties object (level 1), the deepest array allowed.
  const std::string properties = std::string(kMaxPropertyDepth - 1, '[') + std::string(kMaxPropertyDepth - 1, ']');
  auto features =
      read_all(R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":null,"geometry":)" +
               collection + R"(},{"type":"Feature","properties":{"a":)" + properties +
               R"(},"geometry":null},{"type":"Feature","properties":{"a":[)" + properties + R"(]},"geometry":null}]})");
  ASSERT_EQ(features.size(), 3u);
  EXPECT_EQ(features[0].error.rfind("GeometryCollections nested more than 100 deep (at byte", 0), 0u)
      << features[0].error;
  EXPECT_TRUE(features[1].error.empty()) << features[1].error;
  EXPECT_EQ(features[2].error.rfind("properties nested more than 1000 deep (at byte", 0), 0u) << features[2].error;
}

// The feature `json` read twice with the property length limit lowered to
// `limit`: first of two in a collection (parsed in place), then last (copied
// to be parsed, so its properties are checked on the raw text first).
std::vector<Feature> read_both_ways(const std::string& json, std::size_t limit) {
  EXPECT_GE(json.size(), 64u) << "too short to be parsed in place when another follows";
  ExactDocument document(R"({"type":"FeatureCollection","features":[)" + json + "," + json + "]}");
  GeoJsonReader reader(document.data(), document.size(), nullptr, limit);
  std::vector<Feature> features(2);
  for (Feature& feature : features) EXPECT_TRUE(reader.next(feature));
  return features;
}

// `message` as the reader says it for `feature`, about `offset` in the feature's text.
std::string at(const Feature& feature, const std::string& message, std::size_t offset) {
  return message + " (at byte " + std::to_string(feature.byte_offset + offset) + ")";
}

std::string feature_with_properties(const std::string& properties) {
  return R"({"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]},"properties":)" + properties + "}";
}

TEST(GeoJsonReader, APropertyLongerThanJsonbCanStoreFailsItsFeatureUnread) {
  static_assert(kMaxJsonbLength == 268435455, "jsonb's JENTRY_OFFLENMASK");
  constexpr std::size_t kLimit = 16;
  // The name counts too: "s" and 15 bytes fill the limit.
  for (const Feature& feature :
       read_both_ways(feature_with_properties(R"({"s":")" + std::string(15, 'x') + "\"}"), kLimit)) {
    EXPECT_TRUE(feature.error.empty()) << feature.error;
    EXPECT_EQ(feature.properties.text, "s" + std::string(15, 'x'));
  }
  const std::string over = feature_with_properties(R"({"s":")" + std::string(17, 'x') + "\"}");
  const std::size_t string_offset = over.find("\"xxx");
  for (const Feature& feature : read_both_ways(over, kLimit)) {
    EXPECT_EQ(feature.error, at(feature, R"(property "s" is longer than jsonb can store (17 bytes))", string_offset));
    EXPECT_TRUE(feature.properties.tokens.empty());
    EXPECT_TRUE(feature.properties.text.empty());
  }
  // A Feature document: always copied to be parsed.
  ExactDocument document(over);
  GeoJsonReader reader(document.data(), document.size(), nullptr, kLimit);
  Feature feature;
  ASSERT_TRUE(reader.next(feature));
  EXPECT_EQ(feature.error, at(feature, R"(property "s" is longer than jsonb can store (17 bytes))", string_offset));
}

TEST(GeoJsonReader, EscapedPropertyTextsCountAsTheBytesTheyBecome) {
  constexpr std::size_t kLimit = 16;
  const std::string e_acute = "\xC3\xA9";
  const std::string grinning_face = "\xF0\x9F\x98\x80";
  const std::string replacement = "\xEF\xBF\xBD";  // for NUL
  const std::vector<std::pair<std::string, std::string>> fitting = {
      {R"("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9")",
       e_acute + e_acute + e_acute + e_acute + e_acute + e_acute + e_acute + e_acute},
      {R"("\ud83d\ude00\ud83d\ude00\ud83d\ude00\ud83d\ude00")",
       grinning_face + grinning_face + grinning_face + grinning_face},
      {R"("\u0000\u0000\u0000\u0000\u0000\t")",
       replacement + replacement + replacement + replacement + replacement + "\t"},
  };
  for (const auto& [json, text] : fitting) {
    for (const Feature& feature : read_both_ways(feature_with_properties(json), kLimit)) {
      EXPECT_TRUE(feature.error.empty()) << json << ": " << feature.error;
      EXPECT_EQ(feature.properties.text, text) << json;
    }
  }
  const std::string over = feature_with_properties(R"("\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\n")");
  for (const Feature& feature : read_both_ways(over, kLimit)) {
    EXPECT_EQ(feature.error,
              at(feature, "the properties value is longer than jsonb can store (17 bytes)", over.find("\"\\u00e9")));
  }
}

TEST(GeoJsonReader, LongRunsBetweenEscapesAreMeasuredExactly) {
  constexpr std::size_t kLimit = 16;
  // Runs longer than the 16 bytes the measuring steps over at a time, with
  // escapes between them, at the end and straddling a 16-byte boundary.
  const std::string run(37, 'x');
  const std::string over =
      feature_with_properties("\"" + run + R"(\u00e9)" + run + R"(\n\ud83d\ude00)" + run + R"(\u0000")");
  // 3 runs, é (2), \n (1), U+1F600 (4), NUL as U+FFFD (3)
  const std::size_t expected = 3 * run.size() + 2 + 1 + 4 + 3;
  for (const Feature& feature : read_both_ways(over, kLimit)) {
    EXPECT_EQ(
        feature.error,
        at(feature, "the properties value is longer than jsonb can store (" + std::to_string(expected) + " bytes)",
           over.find("\"xxx")));
  }
}

TEST(GeoJsonReader, PropertyNamesAndTheFeaturesPropertyTextsTogetherCountToo) {
  constexpr std::size_t kLimit = 16;
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      // properties, the message, where (the text it names)
      {R"({"aaaaaaaaaaaaaaaaa":1})", R"(property name "aaaaaaaaaaaaaaaaa" is longer than jsonb can store (17 bytes))",
       "\"aaa"},
      {R"({"outer":{"inner":[true,"xxxxxxxxxxxxxxxxx"]}})",
       R"(property "inner" is longer than jsonb can store (17 bytes))", "\"xxx"},
      {R"({"a":"1234567","b":"1234567","c":1})", "the properties hold more text than jsonb can store (over 16 bytes)",
       "\"c\""},
      {R"({"n":[123456789,1234567]})", "the properties hold more text than jsonb can store (over 16 bytes)",
       "1234567]"},
  };
  for (const auto& [properties, message, where] : cases) {
    const std::string json = feature_with_properties(properties);
    for (const Feature& feature : read_both_ways(json, kLimit)) {
      EXPECT_EQ(feature.error, at(feature, message, json.find(where))) << properties;
    }
  }
  // A long name is cut in the message, at a character.
  std::string name = "a";
  for (int i = 0; i < 50; ++i) name += "\xC3\xA9";
  std::string shown = "a";
  for (int i = 0; i < 31; ++i) shown += "\xC3\xA9";
  const std::string json = feature_with_properties("{\"" + name + "\":1}");
  for (const Feature& feature : read_both_ways(json, 100)) {
    EXPECT_EQ(feature.error,
              at(feature, "property name \"" + shown + "\xE2\x80\xA6\" is longer than jsonb can store (101 bytes)",
                 json.find("\"a")));
  }
}

TEST(GeoJsonReader, OnlyPropertiesCountAgainstJsonbsLimit) {
  const std::string long_text = std::string(40, 'x');
  const std::string json = R"({"type":"Feature","id":")" + long_text + R"(","title":")" + long_text +
                           R"(","properties":{"s":"ok"},"geometry":null})";
  for (const Feature& feature : read_both_ways(json, 16)) {
    EXPECT_TRUE(feature.error.empty()) << feature.error;
    EXPECT_EQ(feature.id, long_text);
    EXPECT_EQ(feature.properties.text, "sok");
  }
}

TEST(GeoJsonReader, PropertiesNamedWithEscapesAreCheckedToo) {
  const std::string json = feature_with_properties("{\"s\":\"" + std::string(17, 'x') + "\"}");
  const std::string escaped = std::string(json).replace(json.find("\"properties\""), 12, R"("propert\u0069es")");
  for (const Feature& feature : read_both_ways(escaped, 16)) {
    EXPECT_EQ(feature.error,
              at(feature, R"(property "s" is longer than jsonb can store (17 bytes))", escaped.find("\"xxx")));
  }
}

TEST(GeoJsonReader, ByteOrderMarkBeforeAStringDocumentIsSkipped) {
  ExactDocument document(R"("\ufeff{\"type\":\"Point\",\"coordinates\":[1,2]}")");
  GeoJsonReader reader(document.data(), document.size());
  Feature feature;
  ASSERT_TRUE(reader.next(feature));
  EXPECT_EQ(feature.geometry.coords, (std::vector<double>{1, 2}));

  ExactDocument broken(R"("\ufeff{\"type\":}")");
  try {
    GeoJsonReader broken_reader(broken.data(), broken.size());
    FAIL() << "no error";
  } catch (const DocumentError& error) {
    EXPECT_EQ(error.byte_offset, 11u);  // the mark's 3 bytes counted
  }
}

TEST(GeoJsonReader, ReadsCrsNames) {
  ExactDocument document(
      R"({"type":"FeatureCollection","features":[],"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2056"}}})");
  GeoJsonReader reader(document.data(), document.size());
  EXPECT_EQ(reader.crs_srid(), 2056);
  EXPECT_EQ(srid_from_crs_name("EPSG:2056"), 2056);
  EXPECT_EQ(srid_from_crs_name("urn:ogc:def:crs:OGC:1.3:CRS84"), 4326);
  EXPECT_EQ(srid_from_crs_name("urn:ogc:def:crs:EPSG:6.6:21781"), 21781);
  EXPECT_FALSE(srid_from_crs_name("urn:ogc:def:crs:EPSG::abc"));
}

TEST(GeoJsonReader, RejectsDocumentsThatAreNotGeoJson) {
  EXPECT_EQ(document_error("[1,2]").kind, DocumentError::Kind::NotGeoJson);
  EXPECT_EQ(document_error(R"({"type":"Topology"})").kind, DocumentError::Kind::NotGeoJson);
  EXPECT_EQ(document_error(R"({"type":"FeatureCollection","features":{}})").kind, DocumentError::Kind::NotGeoJson);
  EXPECT_EQ(document_error(R"({"features":[]})").kind, DocumentError::Kind::NotGeoJson);
}

TEST(GeoJsonReader, FeatureBoundariesHoldWhateverStringsSayAtAnyBlockOffset) {
  // Property strings with brackets, quotes and backslashes, shifted byte by
  // byte across the 64-byte blocks the scanner classifies at once, and a
  // feature of nested arrays spanning several blocks.
  const std::vector<std::pair<std::string, std::string>> strings = {
      // as written in the document, as read
      {R"(]}[{,)", "]}[{,"},       {R"(\"]}\")", "\"]}\""},          {R"(\\)", "\\"},
      {R"(\\\"}]\\)", "\\\"}]\\"}, {R"(\u005d\"\\\\[)", "]\"\\\\["},
  };
  std::string line = R"({"type":"Feature","geometry":{"type":"LineString","coordinates":[)";
  for (int i = 0; i < 20; ++i) line += std::string(i == 0 ? "" : ",") + "[" + std::to_string(i) + ",0]";
  line += "]}}";
  for (std::size_t shift = 0; shift < 130; ++shift) {
    std::string json = R"({"type":"FeatureCollection","features":[)";
    std::vector<std::size_t> offsets;
    for (const auto& [written, read] : strings) {
      offsets.push_back(json.size());
      json += R"({"type":"Feature","geometry":null,"properties":{"pad":")" + std::string(shift, 'x') + R"(","s":")" +
              written + R"("}},)";
    }
    offsets.push_back(json.size());
    json += line + "]}";
    const std::vector<Feature> features = read_all(json);
    ASSERT_EQ(features.size(), strings.size() + 1) << "shift " << shift;
    for (std::size_t i = 0; i < features.size(); ++i) {
      EXPECT_EQ(features[i].byte_offset, offsets[i]) << "shift " << shift << ", feature " << i;
      EXPECT_TRUE(features[i].error.empty()) << features[i].error;
    }
    for (std::size_t i = 0; i < strings.size(); ++i) {
      const Properties& p = features[i].properties;
      ASSERT_EQ(p.tokens.size(), 6u);
      EXPECT_EQ(p.text.substr(p.tokens[4].text_offset, p.tokens[4].text_length), strings[i].second)
          << "shift " << shift << ", string " << strings[i].first;
    }
    EXPECT_EQ(features.back().geometry.counts, (std::vector<uint32_t>{20}));
  }
}

TEST(GeoJsonReader, DocumentEndingInsideAStringInsideTheFeaturesSaysSo) {
  for (std::size_t shift = 0; shift < 70; ++shift) {
    const std::string json =
        R"({"type":"FeatureCollection","features":[{"properties":{"s":")" + std::string(shift, 'x') + R"(\"]}]})";
    const DocumentError error = document_error(json);
    EXPECT_EQ(error.kind, DocumentError::Kind::Malformed);
    EXPECT_EQ(std::string(error.what()),
              "malformed JSON: the document ends inside a string (at byte " + std::to_string(json.size()) + ")");
  }
}

TEST(GeoJsonReader, TopLevelNamesAndTypeWithEscapesMeanWhatJsonbReads) {
  const std::string point = R"({"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[1,2]}})";
  EXPECT_EQ(read_all(R"({"type":"FeatureCollection","feat\u0075res":[)" + point + "," + point + "]}").size(), 2u);
  EXPECT_EQ(read_all(R"({"typ\u0065":"Feature\u0043ollection","features":[)" + point + "]}").size(), 1u);
  // The last "features" counts, however it is written.
  EXPECT_EQ(read_all(R"({"type":"FeatureCollection","features":[)" + point + R"(],"feat\u0075res":[)" + point + "," +
                     point + "]}")
                .size(),
            2u);
  ExactDocument document(R"({"type":"FeatureCollection","\u0063rs":{"type":"name","properties":{"name":"EPSG:2056"}},)"
                         R"("features":[]})");
  GeoJsonReader reader(document.data(), document.size());
  EXPECT_EQ(reader.crs_srid(), std::optional<int32_t>(2056));
  EXPECT_EQ(document_error(R"({"type":"FeatureCollection","features":[],"crs":{"type":"nam\u0065"}})").kind,
            DocumentError::Kind::Unsupported);
}

TEST(GeoJsonReader, AStringDocumentPollsTheCancelCheckWhileItIsUnwrapped) {
  const std::string inner = R"({"type":"FeatureCollection","features":[{"type":"Feature","properties":{"s":")" +
                            std::string(4 << 20, 'x') + R"("},"geometry":null}]})";
  std::string escaped;
  for (const char c : inner) escaped += c == '"' ? std::string("\\\"") : std::string(1, c);
  ExactDocument document("\"" + escaped + "\"");
  std::size_t calls = 0;
  const auto count = [](const void* n) { return ++*static_cast<std::size_t*>(const_cast<void*>(n)) > 3; };
  EXPECT_THROW(GeoJsonReader(document.data(), document.size(), CancelCheck(count, &calls)), Interrupted);
  EXPECT_EQ(calls, 4u);
}

TEST(GeoJsonReader, TruncatedDocumentSaysWhere) {
  const std::string json = R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":)";
  DocumentError error = document_error(json);
  EXPECT_EQ(error.kind, DocumentError::Kind::Malformed);
  EXPECT_NE(std::string(error.what()).find("at byte"), std::string::npos) << error.what();
  EXPECT_LE(error.byte_offset, json.size());
}

}  // namespace
}  // namespace geo_import::core
