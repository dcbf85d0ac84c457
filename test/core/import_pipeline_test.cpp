#include "core/import_pipeline.hpp"

#include <cmath>

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

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

// Everything a batch holds, as text: equal text, equal batches.
std::string describe(const Batch& batch) {
  std::string text;
  for (const BatchFeature& f : batch.features) {
    text += std::to_string(f.index) + " outcome " + std::to_string(static_cast<int>(f.outcome)) + " has " +
            std::to_string(f.has_id) + std::to_string(f.has_geometry) + std::to_string(f.has_properties) + " id " +
            std::to_string(f.id.offset) + "+" + std::to_string(f.id.length) + " reason " +
            std::to_string(f.reason.offset) + "+" + std::to_string(f.reason.length) + " tokens " +
            std::to_string(f.first_token) + "+" + std::to_string(f.token_count) + "@" +
            std::to_string(f.token_text_base) + " ewkb " + std::to_string(f.ewkb_offset) + "+" +
            std::to_string(f.ewkb_length) + "\n";
  }
  for (const PropertyToken& token : batch.tokens) {
    text += std::to_string(static_cast<int>(token.kind)) + ":" + std::to_string(token.text_offset) + "+" +
            std::to_string(token.text_length) + " ";
  }
  text += "\ntext " + batch.text + "\newkb ";
  text.append(batch.ewkb.begin(), batch.ewkb.end());
  return text;
}

// What the caller sees: the batches, then how they ended: "end", or the
// exception's type and message.
struct Seen {
  std::vector<std::string> batches;
  std::string end;
};

Seen run(const std::string& json, const PipelineOptions& options, CancelCheck cancel_requested = nullptr) {
  testing::ExactDocument document(json);
  ImportPipeline pipeline(document.data(), document.size(), cancel_requested);
  pipeline.start(options);
  Batch batch;
  Seen result;
  try {
    while (pipeline.next_batch(batch)) result.batches.push_back(describe(batch));
    result.end = "end";
  } catch (const std::exception& error) {
    result.end = std::string(typeid(error).name()) + ": " + error.what();
  }
  return result;
}

PipelineOptions options_for(std::size_t batch_features, InvalidPolicy on_invalid = InvalidPolicy::Repair,
                            std::size_t batch_bytes = PipelineOptions{}.batch_bytes) {
  PipelineOptions options;
  options.batch_features = batch_features;
  options.on_invalid = on_invalid;
  options.batch_bytes = batch_bytes;
  return options;
}

// Runs `json` serially, then in the background; expects the same batches
// and the same end, and returns the serial run. Each run has its own check.
Seen same_in_both_modes(const std::string& json, PipelineOptions options, CancelCheck serial_check = nullptr,
                        CancelCheck background_check = nullptr) {
  options.background = false;
  const Seen serial = run(json, options, serial_check);
  options.background = true;
  const Seen background = run(json, options, background_check);
  EXPECT_EQ(background.end, serial.end);
  EXPECT_EQ(background.batches.size(), serial.batches.size());
  for (std::size_t i = 0; i < std::min(serial.batches.size(), background.batches.size()); ++i) {
    EXPECT_EQ(background.batches[i], serial.batches[i]) << "batch " << i;
  }
  return serial;
}

std::string point_feature(std::size_t i) {
  const std::string n = std::to_string(i);
  return R"({"type":"Feature","id":)" + (i % 2 == 0 ? "\"f" + n + "\"" : n) + R"(,"properties":{"name":"p)" + n +
         R"(","n":)" + n + R"(,"tags":["a",true,null]},"geometry":{"type":"Point","coordinates":[)" +
         std::to_string(static_cast<int>(i % 360) - 180) + ".25," + std::to_string(static_cast<int>(i % 170) - 85) +
         ".5]}}";
}

std::string collection(const std::vector<std::string>& features) {
  std::string json = R"({"type":"FeatureCollection","features":[)";
  for (std::size_t i = 0; i < features.size(); ++i) json += (i > 0 ? ",\n" : "") + features[i];
  return json + "]}";
}

std::string points(std::size_t count) {
  std::vector<std::string> features;
  for (std::size_t i = 0; i < count; ++i) features.push_back(point_feature(i));
  return collection(features);
}

// Mostly points, and regularly a bowtie (repaired or failed), a null
// geometry, an unknown geometry type, a valid MultiPolygon, a 3D point, a
// feature that is not an object.
std::string mixed(std::size_t count) {
  std::vector<std::string> features;
  for (std::size_t i = 0; i < count; ++i) {
    std::string geometry;
    if (i % 97 == 0) geometry = R"({"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]})";
    if (i % 101 == 0) geometry = "null";
    if (i % 103 == 0) geometry = R"({"type":"Hexagon","coordinates":[]})";
    if (i % 107 == 0) {
      geometry = R"({"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]})";
    }
    if (i % 109 == 0) geometry = R"({"type":"Point","coordinates":[1,2,3]})";
    if (i % 1009 == 0) {
      features.push_back("42");
    } else if (geometry.empty()) {
      features.push_back(point_feature(i));
    } else {
      features.push_back(R"({"type":"Feature","id":)" + std::to_string(i) + R"(,"properties":{},"geometry":)" +
                         geometry + "}");
    }
  }
  return collection(features);
}

// A MultiPolygon of `count` bowties: repairing 100000 keeps GEOS busy for
// seconds, and GEOS polls the cancel check all along. (Not every GEOS
// operation polls that often: repairing one polygon whose 800 edges all cross
// runs seconds without a poll in GEOS 3.11.)
std::string bowties_feature(int count = 100000) {
  std::string polygons;
  for (int i = 0; i < count; ++i) {
    const std::string x = std::to_string(i % 1000 * 3);
    const std::string y = std::to_string(i / 1000 * 3);
    const std::string x2 = std::to_string(i % 1000 * 3 + 2);
    const std::string y2 = std::to_string(i / 1000 * 3 + 2);
    polygons += (i > 0 ? ",[[[" : "[[[") + x + "," + y + "],[" + x2 + "," + y2 + "],[" + x2 + "," + y + "],[" + x +
                "," + y2 + "],[" + x + "," + y + "]]]";
  }
  return R"({"type":"Feature","properties":null,"geometry":{"type":"MultiPolygon","coordinates":[)" + polygons + "]}}";
}

// Counts its calls and says cancel once `cancel` is set.
struct CountingCheck {
  mutable std::atomic<std::size_t> calls{0};
  // Those from another thread than the one that made the check: the
  // producer's (next_batch polls the check too while it waits).
  mutable std::atomic<std::size_t> producer_calls{0};
  std::atomic<bool> cancel{false};
  const std::thread::id caller = std::this_thread::get_id();
  static bool poll(const void* self) {
    const auto* check = static_cast<const CountingCheck*>(self);
    ++check->calls;
    if (std::this_thread::get_id() != check->caller) ++check->producer_calls;
    return check->cancel;
  }
  CancelCheck as_check() const { return CancelCheck(poll, this); }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Waits until the check has been called far more often than once a feature
// since `scanned` calls: GEOS is polling it, the producer is inside GEOS.
void wait_for_geos_polls(const CountingCheck& check, std::size_t scanned) {
  const auto start = std::chrono::steady_clock::now();
  while (check.calls - scanned < 1000 && seconds_since(start) < 30) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GE(check.calls - scanned, 1000u);
}

TEST(ImportPipeline, BackgroundGivesTheSerialBatchesOnTheMixedDocument) {
  for (const InvalidPolicy policy : {InvalidPolicy::Repair, InvalidPolicy::Skip, InvalidPolicy::Fail}) {
    for (const std::size_t batch_features : {1, 2, 5000}) {
      const Seen serial = same_in_both_modes(kMixed, options_for(batch_features, policy));
      EXPECT_EQ(serial.end, "end");
      EXPECT_EQ(serial.batches.size(), batch_features == 1 ? 3u : batch_features == 2 ? 2u : 1u);
    }
  }
}

TEST(ImportPipeline, BackgroundGivesTheSerialBatchesOnALargeDocument) {
  const std::string json = mixed(50000);
  Seen serial = same_in_both_modes(json, options_for(5000));
  EXPECT_EQ(serial.end, "end");
  EXPECT_EQ(serial.batches.size(), 10u);
  serial = same_in_both_modes(json, options_for(777, InvalidPolicy::Skip));
  EXPECT_EQ(serial.batches.size(), 65u);
  // Batches that end on input size rather than on feature count.
  serial = same_in_both_modes(json, options_for(5000, InvalidPolicy::Repair, 64 << 10));
  EXPECT_GT(serial.batches.size(), 50u);
  EXPECT_EQ(serial.end, "end");
}

TEST(ImportPipeline, BrokenFeaturesFailAloneInBothModes) {
  const std::string json = collection({point_feature(0), R"({"type":"Feature","properties":{"a":tru},"geometry":null})",
                                       R"({"type":"Feature","properties":{"a" 1},"geometry":null})", point_feature(3)});
  const Seen serial = same_in_both_modes(json, options_for(1));
  EXPECT_EQ(serial.end, "end");
  ASSERT_EQ(serial.batches.size(), 4u);
  EXPECT_NE(serial.batches[1].find("at byte"), std::string::npos) << serial.batches[1];
  EXPECT_NE(serial.batches[2].find("at byte"), std::string::npos) << serial.batches[2];
}

// Acts at its `act_at`-th call and every call after: cancels, throws, or
// runs out of memory.
struct ScriptedCheck {
  enum class Action { Cancel, Throw, OutOfMemory };
  Action action;
  std::size_t act_at;
  mutable std::atomic<std::size_t> calls{0};

  static bool poll(const void* self) {
    const auto* check = static_cast<const ScriptedCheck*>(self);
    const std::size_t call = ++check->calls;
    if (call < check->act_at) return false;
    if (check->action == ScriptedCheck::Action::Throw) {
      throw std::runtime_error("the check failed at call " + std::to_string(call));
    }
    if (check->action == ScriptedCheck::Action::OutOfMemory) throw std::bad_alloc();
    return true;
  }
};

// On points (no GEOS), the check is called by the constructor's scan and
// then once after each feature, so acting at the 3500th feature's call ends
// the run after three batches of 1000, in both modes.
void expect_three_batches_then(ScriptedCheck::Action action, const std::string& end) {
  const std::string json = points(20000);
  CountingCheck scan;
  {
    testing::ExactDocument document(json);
    const ImportPipeline pipeline(document.data(), document.size(), scan.as_check());
  }
  ScriptedCheck serial_check{action, scan.calls + 3500};
  ScriptedCheck background_check{action, scan.calls + 3500};
  const Seen serial = same_in_both_modes(json, options_for(1000), CancelCheck(ScriptedCheck::poll, &serial_check),
                                         CancelCheck(ScriptedCheck::poll, &background_check));
  EXPECT_EQ(serial.batches.size(), 3u);
  EXPECT_NE(serial.end.find(end), std::string::npos) << serial.end;
}

TEST(ImportPipeline, AnErrorComesAfterTheBatchesBeforeIt) {
  expect_three_batches_then(ScriptedCheck::Action::Throw, "the check failed at call");
  expect_three_batches_then(ScriptedCheck::Action::OutOfMemory, "bad_alloc");
}

TEST(ImportPipeline, ACancelMidwayIsInterruptedAfterTheBatchesBeforeIt) {
  expect_three_batches_then(ScriptedCheck::Action::Cancel, std::string(typeid(Interrupted).name()) + ": interrupted");
}

TEST(ImportPipeline, ACancelReachesTheProducerInsideGeos) {
  testing::ExactDocument document(collection({point_feature(0), bowties_feature(), point_feature(2)}));
  CountingCheck check;
  ImportPipeline pipeline(document.data(), document.size(), check.as_check());
  const std::size_t scanned = check.calls;
  pipeline.start(options_for(1));
  Batch batch;
  ASSERT_TRUE(pipeline.next_batch(batch));
  ASSERT_NO_FATAL_FAILURE(wait_for_geos_polls(check, scanned));
  check.cancel = true;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(pipeline.next_batch(batch), Interrupted);
  EXPECT_LT(seconds_since(start), 1.0);
  pipeline.stop();
  ImportPipeline::wait_for_abandoned();
}

TEST(ImportPipeline, DestroyingThePipelineStopsTheProducerInsideGeos) {
  testing::ExactDocument document(collection({point_feature(0), bowties_feature(), point_feature(2)}));
  CountingCheck check;
  auto pipeline = std::make_unique<ImportPipeline>(document.data(), document.size(), check.as_check());
  const std::size_t scanned = check.calls;
  pipeline->start(options_for(1));
  Batch batch;
  ASSERT_TRUE(pipeline->next_batch(batch));
  ASSERT_NO_FATAL_FAILURE(wait_for_geos_polls(check, scanned));
  const auto start = std::chrono::steady_clock::now();
  pipeline.reset();
  EXPECT_LT(seconds_since(start), 1.0);
  ImportPipeline::wait_for_abandoned();
  EXPECT_LT(seconds_since(start), 1.0) << "the producer it left inside GEOS stops at GEOS's next poll";
}

// A polygon whose edges all cross: the star {n/k}. GEOS 3.11 repairs it
// for seconds and polls its interrupt callback only now and then.
std::string star_feature(int n, int k) {
  std::string ring;
  for (int i = 0; i <= n; ++i) {
    const double angle = 2 * M_PI * ((static_cast<long long>(i) * k) % n) / n;
    ring += (i > 0 ? ",[" : "[") + std::to_string(std::cos(angle)) + "," + std::to_string(std::sin(angle)) + "]";
  }
  return R"({"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[)" + ring + "]]}}";
}

TEST(ImportPipeline, ACancelEndsTheImportAtOnceWhileGeosRepairsForSeconds) {
  auto document = std::make_unique<testing::ExactDocument>(collection({point_feature(0), star_feature(601, 300)}));
  CountingCheck check;
  auto pipeline = std::make_unique<ImportPipeline>(document->data(), document->size(), check.as_check());
  pipeline->start(options_for(1));
  Batch batch;
  ASSERT_TRUE(pipeline->next_batch(batch));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the producer is repairing the star
  check.cancel = true;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(pipeline->next_batch(batch), Interrupted);
  EXPECT_LT(seconds_since(start), 0.5) << "next_batch looks at the cancel check while it waits";
  pipeline.reset();
  EXPECT_LT(seconds_since(start), 0.5) << "stop() leaves the producer inside GEOS";
  // The document goes, as the database's memory does when the statement
  // ends: the producer left behind must not read it (AddressSanitizer).
  document.reset();
  ImportPipeline::wait_for_abandoned();
}

TEST(ImportPipeline, TheProducerStaysTwoBatchesAheadAndStopsWhileWaiting) {
  testing::ExactDocument document(points(20000));
  CountingCheck check;
  auto pipeline = std::make_unique<ImportPipeline>(document.data(), document.size(), check.as_check());
  pipeline->start(options_for(100));
  Batch batch;
  ASSERT_TRUE(pipeline->next_batch(batch));
  // One check per feature the producer read: the batch delivered, one
  // ready, one filled and waiting for room. Points take no GEOS, so no
  // reader thread reads further ahead.
  const auto start = std::chrono::steady_clock::now();
  while (check.producer_calls < 300 && seconds_since(start) < 5) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(check.producer_calls, 300u);
  const auto stopping = std::chrono::steady_clock::now();
  pipeline.reset();
  EXPECT_LT(seconds_since(stopping), 1.0);
}

// Records which threads other than its creator's call it.
struct ThreadsCheck {
  const std::thread::id creator = std::this_thread::get_id();
  mutable std::mutex mutex;
  mutable std::set<std::thread::id> others;
  static bool poll(const void* self) {
    const auto* check = static_cast<const ThreadsCheck*>(self);
    const std::lock_guard<std::mutex> lock(check->mutex);
    if (std::this_thread::get_id() != check->creator) check->others.insert(std::this_thread::get_id());
    return false;
  }
};

std::string square_feature(std::size_t i) {
  const std::string x = std::to_string(i);
  const std::string x1 = std::to_string(i + 1);
  return R"({"type":"Feature","properties":null,"geometry":{"type":"Polygon","coordinates":[[[)" + x + ",0],[" + x1 +
         ",0],[" + x1 + ",1],[" + x + ",1],[" + x + ",0]]]}}";
}

std::string squares(std::size_t count) {
  std::vector<std::string> features;
  for (std::size_t i = 0; i < count; ++i) features.push_back(square_feature(i));
  return collection(features);
}

TEST(ImportPipeline, AReaderThreadReadsAheadOnceABatchTakesGeosAndTheBatchesStayTheSame) {
  for (const bool polygons : {false, true}) {
    const std::string json = polygons ? squares(200) : points(200);
    ThreadsCheck check;
    same_in_both_modes(json, options_for(10), nullptr, CancelCheck(ThreadsCheck::poll, &check));
    // The producer, and for polygons the reader it starts after the first batch.
    EXPECT_EQ(check.others.size(), polygons ? 2u : 1u) << (polygons ? "polygons" : "points");
  }
}

// Counts the calls from each thread other than its creator's.
struct CallsByThread {
  const std::thread::id creator = std::this_thread::get_id();
  mutable std::mutex mutex;
  mutable std::map<std::thread::id, std::size_t> calls;
  std::atomic<bool> cancel{false};
  static bool poll(const void* self) {
    const auto* check = static_cast<const CallsByThread*>(self);
    const std::lock_guard<std::mutex> lock(check->mutex);
    if (std::this_thread::get_id() != check->creator) ++check->calls[std::this_thread::get_id()];
    return check->cancel;
  }
  CancelCheck as_check() const { return CancelCheck(poll, this); }
  // How many threads have called it at least `at_least` times.
  std::size_t threads(std::size_t at_least = 1) const {
    const std::lock_guard<std::mutex> lock(mutex);
    return std::count_if(calls.begin(), calls.end(), [&](const auto& entry) { return entry.second >= at_least; });
  }
};

// Large invalid and valid geometries (GEOS polls while it repairs the
// bowties), among points, null geometries and a broken feature.
std::string large_geometries(std::size_t count) {
  std::vector<std::string> features;
  for (std::size_t i = 0; i < count; ++i) {
    if (i % 5 == 3) {
      features.push_back(point_feature(i));
    } else if (i % 7 == 6) {
      features.push_back(R"({"type":"Feature","properties":{"n":1},"geometry":null})");
    } else if (i % 11 == 10) {
      features.push_back(R"({"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0]]]}})");
    } else {
      features.push_back(bowties_feature(100 + 10 * static_cast<int>(i)));
    }
  }
  return collection(features);
}

TEST(ImportPipeline, BatchesOfLargeGeometriesAreValidatedOnTwoThreadsAndStayTheSame) {
  for (const InvalidPolicy policy : {InvalidPolicy::Repair, InvalidPolicy::Skip}) {
    const Seen serial = same_in_both_modes(large_geometries(24), options_for(8, policy));
    EXPECT_EQ(serial.batches.size(), 3u);
    EXPECT_EQ(serial.end, "end");
  }
  // One batch: the producer, and a helper beside it, poll from GEOS.
  CallsByThread check;
  run(large_geometries(12), options_for(100), check.as_check());
  EXPECT_EQ(check.threads(), 2u);
  // Small geometries stay on the producer (and the reader it starts).
  CallsByThread small_check;
  run(squares(100), options_for(100), small_check.as_check());
  EXPECT_EQ(small_check.threads(), 1u);
}

TEST(ImportPipeline, TheHelperValidatesTheNextBatchWhileTheProducerFinishesItsOwn) {
  // Batch 1: squares (the reader thread starts after it); batches 2 and 3:
  // a slow repair each (the producer's, the largest), and a square.
  const std::string slow = bowties_feature(3000);
  testing::ExactDocument document(
      collection({square_feature(0), square_feature(1), slow, square_feature(2), slow, square_feature(3)}));
  ImportPipeline pipeline(document.data(), document.size());
  pipeline.start(options_for(2));
  Batch batch;
  ASSERT_TRUE(pipeline.next_batch(batch));
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pipeline.next_batch(batch));
  const double second = seconds_since(start);
  start = std::chrono::steady_clock::now();
  ASSERT_TRUE(pipeline.next_batch(batch));
  const double third = seconds_since(start);
  EXPECT_EQ(batch.features[0].outcome, BatchFeature::Outcome::Repaired);
  EXPECT_LT(third, 0.5 * second) << "batch 3's repair ran beside batch 2's (" << second << " s, then " << third
                                 << " s)";
  EXPECT_FALSE(pipeline.next_batch(batch));
}

TEST(ImportPipeline, ACancelEndsTheImportAtOnceWhileTwoThreadsAreInsideGeos) {
  auto document = std::make_unique<testing::ExactDocument>(collection({bowties_feature(), bowties_feature()}));
  CallsByThread check;
  auto pipeline = std::make_unique<ImportPipeline>(document->data(), document->size(), check.as_check());
  pipeline->start(options_for(2));
  const auto waiting = std::chrono::steady_clock::now();
  while (check.threads(100) < 2 && seconds_since(waiting) < 30) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(check.threads(100), 2u) << "the producer and its helper poll from inside GEOS";
  check.cancel = true;
  const auto start = std::chrono::steady_clock::now();
  Batch batch;
  EXPECT_THROW(pipeline->next_batch(batch), Interrupted);
  pipeline.reset();
  EXPECT_LT(seconds_since(start), 1.0) << "stop() leaves the producer and its helper inside GEOS";
  document.reset();  // as the statement's memory goes: neither thread reads it (AddressSanitizer)
  ImportPipeline::wait_for_abandoned();
  EXPECT_LT(seconds_since(start), 1.0) << "both stop at GEOS's next poll";
}

// Records whether it runs on another thread than its creator, and whether
// that thread ever had a signal unblocked.
struct SignalProbe {
  std::thread::id creator = std::this_thread::get_id();
  mutable std::atomic<std::size_t> other_thread_calls{0};
  mutable std::atomic<std::size_t> calls_with_a_signal_open{0};

  static bool poll(const void* self) {
    const auto* probe = static_cast<const SignalProbe*>(self);
    if (std::this_thread::get_id() == probe->creator) return false;
    ++probe->other_thread_calls;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
    for (const int signal : {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGURG, SIGALRM, SIGPIPE, SIGCHLD}) {
      if (sigismember(&mask, signal) != 1) {
        ++probe->calls_with_a_signal_open;
        break;
      }
    }
    return false;
  }
};

bool blocked(int signal) {
  sigset_t mask;
  pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, signal) == 1;
}

TEST(ImportPipeline, TheProducerRunsWithEverySignalBlockedAndTheCallersMaskStays) {
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &usr2, &previous);
  for (const bool background : {false, true}) {
    testing::ExactDocument document(points(50));
    SignalProbe probe;
    ImportPipeline pipeline(document.data(), document.size(), CancelCheck(SignalProbe::poll, &probe));
    PipelineOptions options = options_for(10);
    options.background = background;
    pipeline.start(options);
    EXPECT_FALSE(blocked(SIGINT));
    EXPECT_FALSE(blocked(SIGURG));
    EXPECT_TRUE(blocked(SIGUSR2));
    Batch batch;
    while (pipeline.next_batch(batch)) {
    }
    EXPECT_EQ(probe.other_thread_calls, background ? 50u : 0u);
    EXPECT_EQ(probe.calls_with_a_signal_open, 0u);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

TEST(ImportPipeline, StopCanBeCalledTwiceAndEndsTheBatches) {
  for (const bool background : {false, true}) {
    testing::ExactDocument document(points(1000));
    ImportPipeline pipeline(document.data(), document.size());
    PipelineOptions options = options_for(10);
    options.background = background;
    pipeline.start(options);
    Batch batch;
    ASSERT_TRUE(pipeline.next_batch(batch));
    pipeline.stop();
    pipeline.stop();
    EXPECT_THROW(pipeline.next_batch(batch), Interrupted);
  }
}

}  // namespace
}  // namespace geo_import::core
