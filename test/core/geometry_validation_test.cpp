#include "core/geometry_validation.hpp"

#include <geos_c.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

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

// GeoJSON coordinates of rings and polygons, for the many-ring tests.
// A closed ring of `n` positions around (x, y), `radius` away.
std::string ring(double x, double y, double radius, int n = 8) {
  std::ostringstream out;
  out.precision(17);
  out << "[";
  for (int i = 0; i <= n; ++i) {
    const double angle = 2 * M_PI * (i % n) / n;
    out << (i ? "," : "") << "[" << x + radius * std::cos(angle) << "," << y + radius * std::sin(angle) << "]";
  }
  return out.str() + "]";
}
std::string bowtie_ring(double x, double y, double size) {
  std::ostringstream out;
  out << "[[" << x << "," << y << "],[" << x + size << "," << y + size << "],[" << x + size << "," << y << "],[" << x
      << "," << y + size << "],[" << x << "," << y << "]]";
  return out.str();
}
std::string square_ring(double x, double y, double size) {
  std::ostringstream out;
  out << "[[" << x << "," << y << "],[" << x + size << "," << y << "],[" << x + size << "," << y + size << "],[" << x
      << "," << y + size << "],[" << x << "," << y << "]]";
  return out.str();
}
std::string polygon(const std::string& shell, const std::vector<std::string>& holes) {
  std::string text = "[" + shell;
  for (const std::string& hole : holes) text += "," + hole;
  return text + "]";
}

std::string multi_polygon(const std::vector<std::string>& parts) {
  std::string json = R"({"type":"MultiPolygon","coordinates":[)";
  for (std::size_t i = 0; i < parts.size(); ++i) json += (i ? "," : "") + parts[i];
  return json + "]}";
}

// Geometries with many rings take the ring-by-ring path; these compare it
// with GEOS repairing the same input whole (the structure method).
class ManyRings : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_ = GEOS_init_r();
    stored_ = Stored(nullptr, Deleter{handle_});
    reader_ = GEOSGeoJSONReader_create_r(handle_);
    wkb_reader_ = GEOSWKBReader_create_r(handle_);
    params_ = GEOSMakeValidParams_create_r(handle_);
    GEOSMakeValidParams_setMethod_r(handle_, params_, GEOS_MAKE_VALID_STRUCTURE);
    GEOSMakeValidParams_setKeepCollapsed_r(handle_, params_, 0);
  }
  void TearDown() override {
    stored_.reset();
    GEOSMakeValidParams_destroy_r(handle_, params_);
    GEOSWKBReader_destroy_r(handle_, wkb_reader_);
    GEOSGeoJSONReader_destroy_r(handle_, reader_);
    GEOS_finish_r(handle_);
  }

  // Validates `json` with `policy`; the stored geometry, if any, goes to `stored`.
  Validation validate(const std::string& json, InvalidPolicy policy) {
    GeometryValidator validator;
    Geometry geometry = read_geometry(json);
    std::vector<uint8_t> ewkb;
    Validation result = validator.validate(geometry, policy, 4326, ewkb);
    stored_.reset();
    if (!ewkb.empty()) stored_.reset(GEOSWKBReader_read_r(handle_, wkb_reader_, ewkb.data(), ewkb.size()));
    return result;
  }

  // Repairs `json` and expects what GEOS's whole structure repair gives: the
  // same area, nothing in one and not the other, a valid result.
  void expect_repaired_like_geos(const std::string& json) {
    const Validation result = validate(json, InvalidPolicy::Repair);
    ASSERT_EQ(result.outcome, Validation::Outcome::Repaired) << result.reason;
    ASSERT_TRUE(stored_);
    GEOSGeometry* input = GEOSGeoJSONReader_readGeometry_r(handle_, reader_, json.c_str());
    ASSERT_NE(input, nullptr);
    GEOSGeometry* expected = GEOSMakeValidWithParams_r(handle_, input, params_);
    ASSERT_NE(expected, nullptr);
    EXPECT_EQ(GEOSisValid_r(handle_, stored_.get()), 1);
    double stored_area = 0;
    double expected_area = 0;
    GEOSArea_r(handle_, stored_.get(), &stored_area);
    GEOSArea_r(handle_, expected, &expected_area);
    EXPECT_NEAR(stored_area, expected_area, 1e-9 * expected_area);
    GEOSGeometry* difference = GEOSSymDifference_r(handle_, stored_.get(), expected);
    ASSERT_NE(difference, nullptr);
    double difference_area = 0;
    GEOSArea_r(handle_, difference, &difference_area);
    EXPECT_LT(difference_area, 1e-9 * expected_area);
    EXPECT_EQ(GEOSGetNumInteriorRings_r(handle_, largest(stored_.get())),
              GEOSGetNumInteriorRings_r(handle_, largest(expected)));
    GEOSGeom_destroy_r(handle_, difference);
    GEOSGeom_destroy_r(handle_, expected);
    GEOSGeom_destroy_r(handle_, input);
  }

  const GEOSGeometry* largest(const GEOSGeometry* geometry) {
    const GEOSGeometry* best = nullptr;
    double best_area = -1;
    for (int i = 0; i < GEOSGetNumGeometries_r(handle_, geometry); ++i) {
      const GEOSGeometry* part = GEOSGetGeometryN_r(handle_, geometry, i);
      double area = 0;
      GEOSArea_r(handle_, part, &area);
      if (area > best_area) {
        best = part;
        best_area = area;
      }
    }
    return best;
  }

  struct Deleter {
    GEOSContextHandle_t handle;
    void operator()(GEOSGeometry* geometry) const { GEOSGeom_destroy_r(handle, geometry); }
  };

  GEOSContextHandle_t handle_ = nullptr;
  GEOSGeoJSONReader* reader_ = nullptr;
  GEOSWKBReader* wkb_reader_ = nullptr;
  GEOSMakeValidParams* params_ = nullptr;
  using Stored = std::unique_ptr<GEOSGeometry, Deleter>;
  Stored stored_{nullptr, Deleter{nullptr}};
};

// Lakes on a 10 x 10 grid in a 100 x 100 shell.
std::vector<std::string> grid_of_lakes(int rows = 10) {
  std::vector<std::string> holes;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < 10; ++j) holes.push_back(ring(5 + 10 * i, 5 + 10 * j, 2));
  }
  return holes;
}

TEST_F(ManyRings, ValidPolygonWithManyHolesIsValid) {
  const std::string json =
      R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 100), grid_of_lakes()) + "}";
  const Validation result = validate(json, InvalidPolicy::Skip);
  EXPECT_EQ(result.outcome, Validation::Outcome::Valid) << result.reason;
  ASSERT_TRUE(stored_);
  EXPECT_EQ(GEOSGetNumInteriorRings_r(handle_, stored_.get()), 100);
}

TEST_F(ManyRings, HolesTouchingAtAPointAreLeftToGeosAndValid) {
  std::vector<std::string> holes = grid_of_lakes();
  holes.push_back(square_ring(8, 8, 2));
  holes.push_back(square_ring(10, 10, 2));  // touches the one before at (10, 10)
  const std::string json = R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 100), holes) + "}";
  EXPECT_EQ(validate(json, InvalidPolicy::Skip).outcome, Validation::Outcome::Valid);
}

TEST_F(ManyRings, HoleOutsideTheShellIsInvalidAndSaysWhere) {
  std::vector<std::string> holes = grid_of_lakes();
  holes.push_back(square_ring(200, 200, 1));
  const std::string json = R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 100), holes) + "}";
  const Validation result = validate(json, InvalidPolicy::Skip);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_EQ(result.reason, "Hole lies outside shell[200 200]");
}

TEST_F(ManyRings, InvalidHoleIsRepairedAndTheOtherHolesKept) {
  std::vector<std::string> holes = grid_of_lakes();
  holes[17] = bowtie_ring(13, 73, 4);  // in place of the lake at (15, 75)
  expect_repaired_like_geos(R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 100), holes) + "}");
  EXPECT_EQ(GEOSGetNumInteriorRings_r(handle_, stored_.get()), 101);  // the bowtie became two holes
}

TEST_F(ManyRings, HolesOutsideAcrossTheEdgeAndOverlappingAreSubtractedLikeGeos) {
  std::vector<std::string> holes = grid_of_lakes();
  holes.push_back(square_ring(300, 300, 5));  // outside: takes nothing away
  holes.push_back(square_ring(-2, 40, 4));    // across the shell's edge
  holes.push_back(ring(5.5, 5.5, 2));         // overlaps the lake at (5, 5)
  holes.push_back(square_ring(20, 20, 30));   // covers several lakes
  holes.push_back(square_ring(80, 80, 2));    // touches the lakes' grid nowhere
  expect_repaired_like_geos(R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 100), holes) + "}");
}

TEST_F(ManyRings, SelfIntersectingShellSplitsAndItsHolesFollowLikeGeos) {
  // A bowtie shell: two triangles meeting at (50, 50); lakes in both, some
  // where the bowtie has no area, one across a triangle's edge.
  std::vector<std::string> holes = grid_of_lakes();
  holes.push_back(ring(50, 30, 3));
  expect_repaired_like_geos(R"({"type":"Polygon","coordinates":)" + polygon(bowtie_ring(0, 0, 100), holes) + "}");
}

TEST_F(ManyRings, MultiPolygonWithMeetingIslandsIsUnionedLikeGeos) {
  std::vector<std::string> parts;
  parts.push_back(polygon(square_ring(0, 0, 100), grid_of_lakes()));
  parts.push_back(polygon(ring(45, 45, 1), {}));                        // an island in a lake
  parts.push_back(polygon(square_ring(99, 50, 5), {}));                 // overlaps the mainland's edge
  parts.push_back(polygon(square_ring(104, 50, 3), {}));                // touches that island
  parts.push_back(polygon(ring(25, 25, 3), {}));                        // covers a lake of the mainland
  parts.push_back(polygon(bowtie_ring(200, 0, 10), {}));                // invalid: repairs into two
  parts.push_back(polygon(square_ring(120, 0, 50), grid_of_lakes(7)));  // a second lake land, apart
  expect_repaired_like_geos(multi_polygon(parts));
}

// Lakes on a jittered grid: each stays in its cell unless `wander`.
std::vector<std::string> random_lakes(std::mt19937& random, double x0, double y0, int rows, double wander) {
  std::uniform_real_distribution<double> jitter(-wander, wander);
  std::uniform_real_distribution<double> radius(0.5, 4.9);
  std::vector<std::string> holes;
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < 10; ++j) {
      const double r = radius(random);
      holes.push_back(ring(x0 + 5 + 10 * i + jitter(random), y0 + 5 + 10 * j + jitter(random), r,
                           3 + static_cast<int>(random() % 6)));
    }
  }
  return holes;
}

TEST_F(ManyRings, EmptyPolygonOfAMultiPolygonMeetsNothing) {
  std::string json = R"({"type":"MultiPolygon","coordinates":[[])";
  for (int i = 0; i < 63; ++i) json += "," + polygon(square_ring(3 * i, 0, 1), {});
  EXPECT_EQ(validate(json + "]}", InvalidPolicy::Skip).outcome, Validation::Outcome::Valid);
  // A small one takes the usual way, and its repair drops the empty polygon as GEOS does.
  expect_repaired_like_geos(R"({"type":"MultiPolygon","coordinates":[[],)" + polygon(bowtie_ring(0, 0, 2), {}) + "]}");
}

TEST_F(ManyRings, HoleTouchingItsShellStaysWhenAnIslandCrossesThatEdge) {
  // The hole's vertex (10, 3) lies on the shell's edge (0,0)-(100,30); the
  // union with the island moves that edge's node, so the hole must go
  // through the union rather than around it.
  std::vector<std::string> holes;
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 8; ++j) holes.push_back(square_ring(4 + 8 * i, 34 + 8 * j, 2));
  }
  holes.push_back("[[10,3],[12,8],[8,8],[10,3]]");
  // Two pairs of holes touching at a point: the island crosses one hole of
  // the first pair; the second pair is away from everything.
  holes.push_back(square_ring(70, 24, 2));
  holes.push_back(square_ring(72, 26, 2));
  holes.push_back(square_ring(90, 90, 2));
  holes.push_back(square_ring(92, 92, 2));
  const std::string mainland = polygon("[[0,0],[100,30],[100,100],[0,100],[0,0]]", holes);
  const std::string island = polygon("[[39,-2],[47,-3],[43,28],[39,-2]]", {});
  const std::string second_island = polygon("[[71,23],[73,30],[69,30],[71,23]]", {});
  expect_repaired_like_geos(multi_polygon({mainland, island, second_island}));
}

TEST_F(ManyRings, GeosGivingUpFailsTheFeatureOnly) {
  // Intersections of segments this long overflow in GEOS's arithmetic: the
  // union of the two polygons is not valid. 64 islands more send the
  // MultiPolygon the many-ring way.
  std::string json = R"({"type":"MultiPolygon","coordinates":[
      [[[0,0],[1.7e308,0],[0,1.7e308],[1.7e308,1.7e308],[0,0]]],
      [[[-1.7e308,0],[1.7e308,1],[1,-1.7e308],[1.7e308,1.7e308],[-1.7e308,0]]])";
  for (int i = 0; i < 64; ++i) json += "," + polygon(square_ring(-1e6 + 10 * i, -1e6, 1), {});
  const Validation result = validate(json + "]}", InvalidPolicy::Repair);
  EXPECT_EQ(result.outcome, Validation::Outcome::Invalid);
  EXPECT_NE(result.reason.find("; GEOS could not repair it"), std::string::npos) << result.reason;
  EXPECT_FALSE(stored_);
}

TEST_F(ManyRings, CancelDuringTheRepairOfThousandsOfHolesInterruptsIt) {
  std::vector<std::string> holes;
  for (int i = 0; i < 60; ++i) {
    for (int j = 0; j < 60; ++j) holes.push_back(ring(1 + 2 * i, 1 + 2 * j, 0.5));
  }
  holes.push_back(bowtie_ring(200, 200, 1));  // outside, and invalid: the polygon needs a repair
  const std::string json = R"({"type":"Polygon","coordinates":)" + polygon(square_ring(0, 0, 121), holes) + "}";
  struct CountingCheck {
    int polls = 0;
    static bool poll(const void* self) {
      return ++const_cast<CountingCheck*>(static_cast<const CountingCheck*>(self))->polls > 3;
    }
  } check;
  GeometryValidator validator(CancelCheck(CountingCheck::poll, &check));
  Geometry geometry = read_geometry(json);
  std::vector<uint8_t> ewkb;
  EXPECT_THROW(validator.validate(geometry, InvalidPolicy::Repair, 4326, ewkb), Interrupted);
  EXPECT_GT(check.polls, 3);
}

// A ring of 3 to 10 positions somewhere in [low, high] on both axes, or,
// one time in `bowtie_odds`, a bowtie there.
std::string random_ring(std::mt19937& random, double low, double high, double size_low, double size_high,
                        unsigned bowtie_odds) {
  std::uniform_real_distribution<double> coordinate(low, high);
  std::uniform_real_distribution<double> size(size_low, size_high);
  const double x = coordinate(random);
  const double y = coordinate(random);
  if (random() % bowtie_odds == 0) return bowtie_ring(x, y, size(random));
  return ring(x, y, size(random), 3 + static_cast<int>(random() % 8));
}

TEST_F(ManyRings, RandomPolygonsAreJudgedLikeGeos) {
  int valid = 0;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    // Lakes that mostly stay apart; a few wander into a neighbour or out.
    const std::string json = R"({"type":"Polygon","coordinates":)" +
                             polygon(square_ring(0, 0, 100), random_lakes(random, 0, 0, 10, seed % 3 ? 0 : 2)) + "}";
    GEOSGeometry* input = GEOSGeoJSONReader_readGeometry_r(handle_, reader_, json.c_str());
    ASSERT_NE(input, nullptr);
    const char geos_valid = GEOSisValid_r(handle_, input);
    GEOSGeom_destroy_r(handle_, input);
    const Validation result = validate(json, InvalidPolicy::Skip);
    EXPECT_EQ(result.outcome == Validation::Outcome::Valid, geos_valid == 1) << result.reason;
    valid += geos_valid == 1;
  }
  EXPECT_GT(valid, 10);  // both verdicts are exercised
  EXPECT_LT(valid, 50);
}

TEST_F(ManyRings, RandomMultiPolygonsAreRepairedLikeGeos) {
  for (unsigned seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    std::vector<std::string> parts;
    parts.push_back(polygon(square_ring(0, 0, 100), random_lakes(random, 0, 0, 10, 1)));
    parts.push_back(polygon(square_ring(100, 0, 50), random_lakes(random, 100, 0, 7, 1)));  // shares an edge
    for (int island = 0; island < 30; ++island) parts.push_back(polygon(random_ring(random, -10, 110, 0.5, 6, 5), {}));
    expect_repaired_like_geos(multi_polygon(parts));
  }
}

TEST_F(ManyRings, RandomPolygonsAreRepairedLikeGeos) {
  for (unsigned seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    std::vector<std::string> holes;
    const int count = 64 + static_cast<int>(random() % 100);
    for (int h = 0; h < count; ++h) holes.push_back(random_ring(random, -10, 110, 0.2, 4, 10));
    // Half the shells are bowties, whose halves meet at a point.
    const std::string shell = seed % 2 ? square_ring(0, 0, 100) : bowtie_ring(0, 0, 100);
    expect_repaired_like_geos(R"({"type":"Polygon","coordinates":)" + polygon(shell, holes) + "}");
  }
}

// One-ring polygons decided without GEOS must be the ones GEOS finds valid.
class CertainlySimple : public ::testing::Test {
 protected:
  using Vertices = std::vector<std::array<double, 2>>;

  void SetUp() override { handle_ = GEOS_init_r(); }
  void TearDown() override { GEOS_finish_r(handle_); }

  // A Polygon whose one ring runs through `vertices` and back to the first.
  static Geometry ring_polygon(const Vertices& vertices) {
    Geometry geometry;
    geometry.type = GeometryType::Polygon;
    geometry.counts = {1, static_cast<uint32_t>(vertices.size() + 1)};
    for (std::size_t i = 0; i <= vertices.size(); ++i) {
      const auto& v = vertices[i % vertices.size()];
      geometry.coords.insert(geometry.coords.end(), v.begin(), v.end());
    }
    return geometry;
  }

  // GEOS's isValid on the same doubles.
  bool geos_valid(const Geometry& geometry) {
    const auto n = static_cast<unsigned>(geometry.counts[1]);
    GEOSCoordSequence* sequence = GEOSCoordSeq_create_r(handle_, n, 2);
    for (unsigned i = 0; i < n; ++i) {
      GEOSCoordSeq_setXY_r(handle_, sequence, i, geometry.coords[2 * i], geometry.coords[2 * i + 1]);
    }
    GEOSGeometry* shell = GEOSGeom_createLinearRing_r(handle_, sequence);
    EXPECT_NE(shell, nullptr);
    GEOSGeometry* polygon = GEOSGeom_createPolygon_r(handle_, shell, nullptr, 0);
    const char valid = GEOSisValid_r(handle_, polygon);
    GEOSGeom_destroy_r(handle_, polygon);
    EXPECT_NE(valid, 2);
    return valid == 1;
  }

  // Expects GEOS to agree whenever the polygon counts as certainly simple;
  // returns whether it did count so.
  bool check(const Vertices& vertices) {
    const Geometry geometry = ring_polygon(vertices);
    const bool certain = is_certainly_simple_polygon(geometry);
    const bool valid = geos_valid(geometry);
    if (certain) EXPECT_TRUE(valid) << describe(vertices);
    return certain;
  }

  static std::string describe(const Vertices& vertices) {
    std::ostringstream out;
    out.precision(17);
    for (const auto& v : vertices) out << "(" << v[0] << " " << v[1] << ") ";
    return out.str();
  }

  // `n` vertices around (x, y), in order of angle, at random radii: simple.
  static Vertices star(std::mt19937& random, std::size_t n, double x, double y, double scale) {
    std::uniform_real_distribution<double> radius(0.2 * scale, scale);
    std::uniform_real_distribution<double> jitter(0.0, 0.9);
    Vertices vertices;
    for (std::size_t i = 0; i < n; ++i) {
      const double angle = 2 * M_PI * (static_cast<double>(i) + jitter(random)) / static_cast<double>(n);
      const double r = radius(random);
      vertices.push_back({x + r * std::cos(angle), y + r * std::sin(angle)});
    }
    return vertices;
  }

  GEOSContextHandle_t handle_ = nullptr;
};

TEST_F(CertainlySimple, PlainPolygonsAreDecidedWithoutGeos) {
  EXPECT_TRUE(check({{0, 0}, {4, 0}, {4, 4}, {0, 4}}));
  EXPECT_TRUE(check({{0, 0}, {4, 0}, {2, 3}}));
  EXPECT_TRUE(check({{0, 0}, {4, 0}, {4, 4}, {2, 1}, {0, 4}}));  // concave
  EXPECT_TRUE(check({{7.4301, 46.9512}, {7.4305, 46.9512}, {7.4306, 46.9517}, {7.4300, 46.9516}}));
}

TEST_F(CertainlySimple, WhatItCannotDecideGoesToGeos) {
  // Invalid: edges that cross, touch, overlap or run back on themselves.
  EXPECT_FALSE(check({{0, 0}, {2, 2}, {2, 0}, {0, 2}}));                  // bowtie
  EXPECT_FALSE(check({{0, 0}, {4, 0}, {2, 2}, {4, 4}, {0, 4}, {2, 2}}));  // touches itself at a vertex
  EXPECT_FALSE(check({{0, 0}, {4, 0}, {4, 4}, {2, 0}}));                  // a vertex on an edge
  EXPECT_FALSE(check({{0, 0}, {4, 0}, {6, 0}, {4, 4}}));                  // a spike back along an edge
  EXPECT_FALSE(check({{0, 0}, {4, 0}, {8, 0}}));                          // no area
  // Valid, but not certain without GEOS: three in a row, a repeated position.
  EXPECT_FALSE(check({{0, 0}, {2, 0}, {4, 0}, {4, 4}, {0, 4}}));
  EXPECT_FALSE(check({{0, 0}, {4, 0}, {4, 0}, {4, 4}, {0, 4}}));
  // Out of the range where the rounding bound holds, or GEOS's own arithmetic:
  // this ring is simple, but GEOS 3.11's double-double orientation overflows
  // on its 1e300-wide edges and finds it self-intersecting.
  const Vertices wide_and_flat = {{0, 0}, {2e300, 2e-30}, {2e300, 3e-30}, {1e300, 1.0000000000000004e-30}, {0, 3e-30}};
  EXPECT_FALSE(geos_valid(ring_polygon(wide_and_flat)));
  EXPECT_FALSE(check(wide_and_flat));
  EXPECT_FALSE(check({{0, 0}, {1.5 * kMaxCertainCoordinate, 0}, {4, 4}, {0, 4}}));
  EXPECT_TRUE(check({{0, 0}, {kMaxCertainCoordinate, 0}, {4, 4}, {0, 4}}));
  EXPECT_FALSE(check({{0, 0}, {4e150, 0}, {4e150, 4e150}, {0, 4e150}}));
  EXPECT_FALSE(check({{0, 0}, {4e-150, 0}, {4e-150, 4e-150}, {0, 4e-150}}));
  EXPECT_FALSE(check({{0, 0}, {INFINITY, 0}, {4, 4}, {0, 4}}));
  // Not a Polygon of one closed ring of at most kMaxCertainRingSegments edges.
  std::mt19937 random(7);
  EXPECT_FALSE(check(star(random, kMaxCertainRingSegments + 1, 0, 0, 1)));
  EXPECT_TRUE(check(star(random, kMaxCertainRingSegments, 0, 0, 1)));
  Geometry open = ring_polygon({{0, 0}, {4, 0}, {4, 4}, {0, 4}});
  open.coords.back() = 1;
  EXPECT_FALSE(is_certainly_simple_polygon(open));
  Geometry holed =
      read_geometry(R"({"type":"Polygon","coordinates":[[[0,0],[9,0],[9,9],[0,0]],[[5,1],[8,1],[8,4],[5,1]]]})");
  EXPECT_FALSE(is_certainly_simple_polygon(holed));
  // A MultiPolygon of one such polygon is one too; of two, GEOS judges how they meet.
  EXPECT_TRUE(is_certainly_simple_polygon(
      read_geometry(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,0]]]]})")));
  EXPECT_FALSE(is_certainly_simple_polygon(read_geometry(
      R"({"type":"MultiPolygon","coordinates":[[[[0,0],[4,0],[4,4],[0,0]]],[[[5,0],[9,0],[9,4],[5,0]]]]})")));
  EXPECT_FALSE(is_certainly_simple_polygon(
      read_geometry(R"({"type":"MultiPolygon","coordinates":[[[[0,0],[2,2],[2,0],[0,2],[0,0]]]]})")));
}

TEST_F(CertainlySimple, ThreeDimensionalRingsAreJudgedInXY) {
  Geometry geometry = read_geometry(R"({"type":"Polygon","coordinates":[[[0,0,5],[4,0,6],[4,4,7],[0,0,5]]]})");
  EXPECT_TRUE(is_certainly_simple_polygon(geometry));
  geometry = read_geometry(R"({"type":"Polygon","coordinates":[[[0,0,5],[2,2,6],[2,0,7],[0,2,8],[0,0,5]]]})");
  EXPECT_FALSE(is_certainly_simple_polygon(geometry));
}

TEST_F(CertainlySimple, RandomRingsAgreeWithGeos) {
  std::mt19937 random(2026);
  std::uniform_real_distribution<double> longitude(-180, 180);
  std::uniform_real_distribution<double> latitude(-90, 90);
  std::uniform_real_distribution<double> exponent(-4, 6);  // from 0.1 mm (in degrees) to 1000 km (in metres)
  int stars = 0;
  int shuffled_certain = 0;
  for (int round = 0; round < 3000; ++round) {
    const std::size_t n = 3 + random() % 14;
    // Simple polygons of doubles: all certain.
    const Vertices simple = star(random, n, longitude(random), latitude(random), std::pow(10.0, exponent(random)));
    stars += check(simple);
    // The same positions in a random order: mostly crossing edges.
    Vertices shuffled = simple;
    std::shuffle(shuffled.begin(), shuffled.end(), random);
    shuffled_certain += check(shuffled);
    // Small integers: three in a row, touches and overlaps everywhere.
    Vertices grid;
    for (std::size_t i = 0; i < n; ++i)
      grid.push_back({static_cast<double>(random() % 4), static_cast<double>(random() % 4)});
    check(grid);
    // One vertex moved onto the midpoint of another edge (exactly: even integers).
    Vertices touching;
    for (const auto& v : simple) touching.push_back({2 * std::round(v[0]), 2 * std::round(v[1])});
    const std::size_t moved = random() % n;
    const std::size_t edge = (moved + 2 + random() % std::max<std::size_t>(1, n - 3)) % n;
    const auto& a = touching[edge];
    const auto& b = touching[(edge + 1) % n];
    touching[moved] = {(a[0] + b[0]) / 2, (a[1] + b[1]) / 2};
    check(touching);
    // Nearly on a line: each vertex a few units in the last place off it.
    Vertices nearly;
    std::uniform_real_distribution<double> along(0.0, 1.0);
    for (std::size_t i = 0; i < n; ++i) {
      const double t = along(random);
      double x = 0.1 + 12.3 * t;
      double y = 0.7 + 45.6 * t;
      for (unsigned step = random() % 4; step > 0; --step) y = std::nextafter(y, random() % 2 ? INFINITY : -INFINITY);
      nearly.push_back({x, y});
    }
    check(nearly);
    // Very wide and very flat, up to the extremes of the double range.
    Vertices flat;
    std::uniform_real_distribution<double> width_exponent(0, 307);
    std::uniform_real_distribution<double> height_exponent(-300, 0);
    const double width = std::pow(10.0, width_exponent(random));
    const double height = std::pow(10.0, height_exponent(random));
    for (const auto& v : star(random, n, 0, 0, 1)) flat.push_back({v[0] * width, v[1] * height});
    check(flat);
  }
  EXPECT_EQ(stars, 3000);            // the fast path takes every plain polygon
  EXPECT_GT(shuffled_certain, 300);  // and the shuffles that still make simple rings
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
