#include "core/geometry_validation.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "core/geojson_reader.hpp"
#include "test_support.hpp"

namespace geo_import::core {
namespace {

Geometry read_geometry(const std::string& json) {
  testing::ExactDocument document(json);
  GeoJsonReader reader(document.data(), document.size());
  Feature feature;
  EXPECT_TRUE(reader.next(feature));
  EXPECT_TRUE(feature.error.empty()) << feature.error;
  return feature.geometry;
}

constexpr const char* kBowtie = R"({"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]})";
constexpr const char* kOpenRing = R"({"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4]]]})";

TEST(GeometryValidator, ValidPolygonPassesUnchanged) {
  GeometryValidator validator;
  Geometry geometry = read_geometry(R"({"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,0]]]})");
  std::vector<uint8_t> ewkb;
  Validation result = validator.validate(geometry, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Valid);
  EXPECT_FALSE(ewkb.empty());
}

TEST(GeometryValidator, BowtieIsInvalidWithGeosReasonWhenSkipping) {
  GeometryValidator validator;
  Geometry geometry = read_geometry(kBowtie);
  std::vector<uint8_t> ewkb;
  Validation result = validator.validate(geometry, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(result.reason, "Self-intersection[1 1]");
  EXPECT_TRUE(ewkb.empty());
}

TEST(GeometryValidator, BowtieIsRepairedWhenRepairing) {
  GeometryValidator validator;
  Geometry geometry = read_geometry(kBowtie);
  std::vector<uint8_t> ewkb;
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Repaired);
  EXPECT_EQ(result.reason, "Self-intersection[1 1]");
  EXPECT_FALSE(ewkb.empty());
}

TEST(GeometryValidator, OpenRingIsClosedOnlyWhenRepairing) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  Geometry skipped = read_geometry(kOpenRing);
  Validation skip = validator.validate(skipped, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(skip.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(skip.reason, "ring 1 is not closed (its last position differs from its first)");

  Geometry repaired = read_geometry(kOpenRing);
  Validation repair = validator.validate(repaired, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(repair.outcome, Validation::Outcome::Repaired);
  EXPECT_EQ(
      repair.reason,
      "ring 1 is not closed (its last position differs from its first); closed it by repeating its first position");
  EXPECT_EQ(repaired.counts, (std::vector<uint32_t>{1, 5}));
}

TEST(GeometryValidator, RingOpenOnlyInZIsNamedAndClosed) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  const std::string json = R"({"type":"Polygon","coordinates":[[[0,0,1],[4,0,1],[4,4,1],[0,0,2.5]]]})";
  Geometry skipped = read_geometry(json);
  Validation skip = validator.validate(skipped, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(skip.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(skip.reason, "ring 1 is closed in X and Y but not in Z (its first position has Z 1, its last Z 2.5)");

  Geometry repaired = read_geometry(json);
  Validation repair = validator.validate(repaired, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(repair.outcome, Validation::Outcome::Repaired);
  EXPECT_EQ(repaired.counts, (std::vector<uint32_t>{1, 5}));
  EXPECT_EQ(std::vector<double>(repaired.coords.end() - 3, repaired.coords.end()), (std::vector<double>{0, 0, 1}));
}

TEST(GeometryValidator, ShortHoleIsDroppedWhenRepairing) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  const std::string json =
      R"({"type":"Polygon","coordinates":[[[0,0],[9,0],[9,9],[0,0]],[[1,1],[2,1],[1,1]],[[5,2],[6,2],[6,3],[5,2]]]})";
  Geometry skipped = read_geometry(json);
  Validation skip = validator.validate(skipped, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(skip.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(skip.reason, "ring 2 has 3 positions; a ring needs at least 4");

  Geometry repaired = read_geometry(json);
  Validation repair = validator.validate(repaired, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(repair.outcome, Validation::Outcome::Repaired);
  EXPECT_EQ(repair.reason, "ring 2 has 3 positions; a ring needs at least 4; dropped that ring");
  EXPECT_EQ(repaired.counts, (std::vector<uint32_t>{2, 4, 4}));
  EXPECT_EQ(repaired.coords, (std::vector<double>{0, 0, 9, 0, 9, 9, 0, 0, 5, 2, 6, 2, 6, 3, 5, 2}));
}

TEST(GeometryValidator, EmptyRingIsDegenerateNotEmpty) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  Geometry geometry = read_geometry(R"({"type":"Polygon","coordinates":[[]]})");
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(result.reason, "ring 1 has 0 positions; a ring needs at least 4");
}

TEST(GeometryValidator, PolygonWithShortShellIsDroppedFromMultiPolygon) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  Geometry geometry = read_geometry(R"({"type":"MultiPolygon","coordinates":[
      [[[0,0],[1,0],[1,1],[0,0]]],
      [[[5,5],[6,6]],[[5,5],[6,5],[6,6],[5,5]]],
      [[[8,8],[9,8],[9,9],[8,8]]]]})");
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Repaired);
  EXPECT_EQ(result.reason, "ring 1 of polygon 2 has 2 positions; a ring needs at least 4; dropped polygon 2");
  EXPECT_EQ(geometry.counts, (std::vector<uint32_t>{2, 1, 4, 1, 4}));
  EXPECT_EQ(geometry.position_count(), 8u);
}

TEST(GeometryValidator, OneBrokenMemberOfACollectionIsNamedAndDropped) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  const std::string json = R"({"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,1]},
      {"type":"GeometryCollection","geometries":[{"type":"LineString","coordinates":[[0,0]]}]}]})";
  Geometry skipped = read_geometry(json);
  Validation skip = validator.validate(skipped, InvalidPolicy::Skip, 4326, ewkb);
  EXPECT_EQ(skip.reason,
            "geometry 1 of geometry 2 of the GeometryCollection: the LineString has 1 position; it needs at least 2");

  Geometry repaired = read_geometry(json);
  Validation repair = validator.validate(repaired, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(repair.outcome, Validation::Outcome::Repaired);
  ASSERT_EQ(repaired.members.size(), 1u);
  EXPECT_EQ(repaired.members[0].type, GeometryType::Point);
}

TEST(GeometryValidator, ShortRingIsInvalid) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  Geometry geometry = read_geometry(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,1],[0,0]]]]})");
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(result.reason, "ring 1 of polygon 1 has 3 positions; a ring needs at least 4");
}

TEST(GeometryValidator, GeosGivingUpFailsTheFeatureOnly) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  // Intersections of segments this long overflow in GEOS's arithmetic.
  Geometry geometry = read_geometry(R"({"type":"MultiPolygon","coordinates":[
      [[[0,0],[1.7e308,0],[0,1.7e308],[1.7e308,1.7e308],[0,0]]],
      [[[-1.7e308,0],[1.7e308,1],[1,-1.7e308],[1.7e308,1.7e308],[-1.7e308,0]]]]})");
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_NE(result.reason.find("; GEOS could not repair it: TopologyException"), std::string::npos) << result.reason;
  EXPECT_TRUE(ewkb.empty());
}

TEST(Ewkb, PointIsLittleEndianWithSrid) {
  Geometry geometry = read_geometry(R"({"type":"Point","coordinates":[1.5,-2]})");
  std::vector<uint8_t> ewkb;
  append_ewkb(geometry, 2056, ewkb);
  ASSERT_EQ(ewkb.size(), 1u + 4 + 4 + 16);
  EXPECT_EQ(ewkb[0], 1);
  EXPECT_EQ(ewkb[1], 1);     // Point
  EXPECT_EQ(ewkb[4], 0x20);  // SRID flag
  int32_t srid = 0;
  std::memcpy(&srid, ewkb.data() + 5, 4);
  EXPECT_EQ(srid, 2056);
}

}  // namespace
}  // namespace geo_import::core
