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
  EXPECT_EQ(repair.reason, "ring 1 was not closed; closed it");
  EXPECT_EQ(repaired.counts, (std::vector<uint32_t>{1, 5}));
}

TEST(GeometryValidator, ShortRingIsInvalid) {
  GeometryValidator validator;
  std::vector<uint8_t> ewkb;
  Geometry geometry = read_geometry(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,1],[0,0]]]]})");
  Validation result = validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(result.reason, "ring 1 of polygon 1 has 3 positions; a ring needs at least 4");
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
