#include "core/geojson_reader.hpp"

#include <gtest/gtest.h>

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

TEST(GeoJsonReader, PropertiesBecomeTokensWithNulReplaced) {
  auto features = read_all(
      R"({"type":"Feature","geometry":null,"properties":{"s":"a\u0000b","n":1e400,"big":1e5000,"l":[true,null]}})");
  ASSERT_EQ(features.size(), 1u);
  const Properties& p = features[0].properties;
  using Kind = PropertyToken::Kind;
  std::vector<Kind> kinds;
  for (const auto& token : p.tokens) kinds.push_back(token.kind);
  EXPECT_EQ(kinds, (std::vector<Kind>{Kind::BeginObject, Kind::Key, Kind::String, Kind::Key, Kind::Number, Kind::Key,
                                      Kind::String, Kind::Key, Kind::BeginArray, Kind::True, Kind::Null,
                                      Kind::EndArray, Kind::EndObject}));
  EXPECT_EQ(p.text.substr(p.tokens[2].text_offset, p.tokens[2].text_length), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(p.text.substr(p.tokens[4].text_offset, p.tokens[4].text_length), "1e400");
  EXPECT_FALSE(features[0].has_geometry);
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

TEST(GeoJsonReader, TruncatedDocumentSaysWhere) {
  const std::string json = R"({"type":"FeatureCollection","features":[{"type":"Feature","geometry":)";
  DocumentError error = document_error(json);
  EXPECT_EQ(error.kind, DocumentError::Kind::Malformed);
  EXPECT_NE(std::string(error.what()).find("at byte"), std::string::npos) << error.what();
  EXPECT_LE(error.byte_offset, json.size());
}

}  // namespace
}  // namespace geo_import::core
