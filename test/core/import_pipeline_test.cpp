#include "core/import_pipeline.hpp"

#include <gtest/gtest.h>

#include "test_support.hpp"

namespace geo_import::core {
namespace {

const std::string kMixed = R"({"type":"FeatureCollection","features":[
  {"type":"Feature","id":"bow","properties":{"k":"v"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}},
  {"type":"Feature","id":2,"properties":null,"geometry":{"type":"Point","coordinates":[5,5]}},
  {"type":"Feature","properties":{},"geometry":{"type":"Hexagon","coordinates":[]}}]})";

std::vector<BatchFeature::Outcome> outcomes(InvalidPolicy policy, std::size_t batch_features, std::size_t* batches) {
  testing::ExactDocument document(kMixed);
  ImportPipeline pipeline(document.data(), document.size());
  PipelineOptions options;
  options.on_invalid = policy;
  options.batch_features = batch_features;
  pipeline.start(options);
  Batch batch;
  std::vector<BatchFeature::Outcome> result;
  *batches = 0;
  while (pipeline.next_batch(batch)) {
    ++*batches;
    for (const BatchFeature& feature : batch.features) result.push_back(feature.outcome);
  }
  return result;
}

TEST(ImportPipeline, OutcomesFollowThePolicy) {
  using O = BatchFeature::Outcome;
  std::size_t batches = 0;
  EXPECT_EQ(outcomes(InvalidPolicy::Skip, 100, &batches), (std::vector<O>{O::Failed, O::Imported, O::Failed}));
  EXPECT_EQ(batches, 1u);
  EXPECT_EQ(outcomes(InvalidPolicy::Repair, 2, &batches), (std::vector<O>{O::Repaired, O::Imported, O::Failed}));
  EXPECT_EQ(batches, 2u);
}

TEST(ImportPipeline, BatchKeepsIdsReasonsAndProperties) {
  testing::ExactDocument document(kMixed);
  ImportPipeline pipeline(document.data(), document.size());
  pipeline.start(PipelineOptions{});
  Batch batch;
  ASSERT_TRUE(pipeline.next_batch(batch));
  ASSERT_EQ(batch.features.size(), 3u);
  EXPECT_EQ(batch.view(batch.features[0].id), "bow");
  EXPECT_EQ(batch.view(batch.features[0].reason), "Self-intersection[1 1]");
  EXPECT_EQ(batch.features[0].token_count, 4u);
  EXPECT_GT(batch.features[0].ewkb_length, 0u);
  EXPECT_EQ(batch.view(batch.features[1].id), "2");
  EXPECT_FALSE(batch.features[1].has_properties);
  EXPECT_EQ(batch.view(batch.features[2].reason).rfind("unknown geometry type \"Hexagon\"", 0), 0u);
  EXPECT_EQ(batch.features[2].ewkb_length, 0u);
}

}  // namespace
}  // namespace geo_import::core
